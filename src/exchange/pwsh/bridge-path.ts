/**
 * Where templates/exchange/bridge.ps1 is: beside the package root, found by walking up from this module (it runs
 * from src/ under tests and from dist/src/ when built).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BRIDGE_RELATIVE_PATH = path.join('templates', 'exchange', 'bridge.ps1');

let cached: string | undefined;

export function bridgeScriptPath(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, BRIDGE_RELATIVE_PATH);
    if (existsSync(candidate)) return (cached = candidate);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`${BRIDGE_RELATIVE_PATH} is missing from the sendasapp installation (reinstall sendasapp)`);
}

/** `pwsh -NoLogo -NoProfile -NonInteractive -File <bridge.ps1>`: no value of a run ever goes on this line. */
export function bridgeArgs(extra: string[] = []): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', bridgeScriptPath(), ...extra];
}
