/**
 * `sendasapp demo`, the smoke test of the command: it starts its own emulator, applies, proves, reruns with no
 * write, and removes its temp folder (the secret and the emulator's keys) unless --keep.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { JWT_PATTERN, readJson, tempDir } from '../helpers/e2e.js';

describe('demo', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('applies, proves, reruns with 0 writes, and leaves no temp folder behind', async () => {
    const tmp = tempDir('sendasapp-demo-tmp-');
    made.push(tmp);
    const r = await runCli(['demo'], { env: { TMPDIR: tmp } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('235 2.7.0 Authentication successful');
    expect(r.stderr).toMatch(/The rerun sent \d+ Graph and \d+ Exchange requests \(\d+ cmdlets, batched\); 0 writes\./);
    expect(r.stderr).toContain('is removed; --keep keeps it');
    // The rerun's result on stdout says nothing changed in text (its summary), and no token or key is printed.
    expect(r.stdout).toContain('Application (client) id:');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(JWT_PATTERN);
    expect(readdirSync(tmp).filter((f) => f.startsWith('sendasapp-demo-'))).toEqual([]);
  });

  it('--keep keeps the folder with the 0600 secret file it names', async () => {
    const tmp = tempDir('sendasapp-demo-keep-');
    made.push(tmp);
    const r = await runCli(['demo', '--keep'], { env: { TMPDIR: tmp } });
    expect(r.code, r.stderr).toBe(0);
    const [kept] = readdirSync(tmp).filter((f) => f.startsWith('sendasapp-demo-'));
    expect(kept).toBeDefined();
    const secret = path.join(tmp, kept!, 'secret.json');
    expect(r.stderr).toContain(`The secret is in ${secret} (mode 0600)`);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    const sink = readJson(secret);
    expect(sink.credential.type).toBe('secret');
    expect(`${r.stdout}${r.stderr}`).not.toContain(sink.credential.secret);
  });
});
