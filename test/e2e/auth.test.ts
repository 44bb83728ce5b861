/**
 * Operator sign-in modes, end to end: the CLI signs in through @azure/identity against the emulator's token
 * service with client-secret / environment variables, and with the device-code flow approved by a test "person".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { runCli } from '../helpers/cli.js';

const TENANT = 'contoso.onmicrosoft.com';

describe('operator sign-in', () => {
  let emu: TestEmulator;
  let dir: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    dir = mkdtempSync(path.join(tmpdir(), 'sendasapp-auth-'));
  });
  afterAll(async () => emu.close());

  const planArgs = (): string[] => [
    'plan',
    '--endpoints',
    emu.endpointsFile,
    '--tenant',
    TENANT,
    '--mailbox',
    `scanner@${TENANT}`,
    // A new app's secret needs a place to go, or the preflight stops the plan (exit 2).
    '--secret-out',
    path.join(dir, 'secret.json'),
    '--output',
    'json',
  ];

  it('--auth client-secret reads AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET', async () => {
    const op = emu.endpoints.operator;
    const r = await runCli([...planArgs(), '--auth', 'client-secret'], {
      env: { AZURE_TENANT_ID: op.tenantId, AZURE_CLIENT_ID: op.clientId, AZURE_CLIENT_SECRET: op.clientSecret },
    });
    expect(r.stderr).not.toContain('error:');
    expect(r.code).toBe(0);
    expect(r.json<{ outcome: string }>().outcome).toBe('changes-pending');
    const log = await emu.control.log({ service: 'graph' });
    expect(log.some((e) => e.caller === op.clientId)).toBe(true);
  });

  it('--auth client-secret without the variables is bad input naming the variable', async () => {
    await emu.control.clearLog();
    const r = await runCli([...planArgs(), '--auth', 'client-secret']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('AZURE_CLIENT_ID');
    expect((await emu.control.log()).filter((e) => e.service !== 'token')).toEqual([]);
  });

  it('--auth environment with a wrong secret fails with the AADSTS cause and a fix', async () => {
    const op = emu.endpoints.operator;
    const r = await runCli([...planArgs(), '--auth', 'environment'], {
      env: {
        AZURE_TENANT_ID: op.tenantId,
        AZURE_CLIENT_ID: op.clientId,
        AZURE_CLIENT_SECRET: 'not-the-secret-0000000000',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AADSTS7000215');
    expect(r.stderr).toMatch(/Fix:/);
    expect(r.stderr).not.toContain('not-the-secret-0000000000');
  });

  it('--auth device-code prints the code on stderr and goes on once an admin approves it', async () => {
    const approve = (async () => {
      for (let i = 0; i < 100; i++) {
        const pending = await emu.control.pendingDeviceCodes();
        if (pending[0]) {
          await emu.control.approveDeviceCode(pending[0].userCode, `admin@${TENANT}`);
          return pending[0].userCode;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('no device code was requested');
    })();
    const r = await runCli([...planArgs(), '--auth', 'device-code'], { timeoutMs: 60_000 });
    const userCode = await approve;
    expect(r.stderr).toContain(userCode);
    expect(r.code).toBe(0);
    const out = r.json<{ resources: Array<{ key: string }> }>();
    expect(out.resources.map((x) => x.key)).toContain('entra.application');
    // A person's rights show in the reads of the preflight; none failed.
    expect((out as unknown as { failure?: unknown; error?: unknown }).error).toBeUndefined();
    // The Graph calls were made as the signed-in administrator, not as the operator app.
    const graph = await emu.control.log({ service: 'graph' });
    expect(
      graph.some(
        (e) =>
          e.caller === `admin@${TENANT}` ||
          e.caller ===
            emu.store.world.tenants[0]!.users.find((u) => u.entity.userPrincipalName === `admin@${TENANT}`)!.entity.id,
      ),
    ).toBe(true);
  });
});
