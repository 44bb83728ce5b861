/** The app's stable key: readable, and different for any two display names that differ (beyond case and spacing). */
import { describe, expect, it } from 'vitest';
import { legacyUniqueNameFor, normalizeAppName, uniqueNameFor } from '../../src/entra/application.js';
import { runNames } from '../../src/provision/index.js';

describe('app identity', () => {
  it('gives names that collided under the 0.1 key different keys', () => {
    const pairs: Array<[string, string]> = [
      ['Финансы', 'Продажи'],
      ['Scanner SMTP', 'scanner-smtp!!'],
      ['x'.repeat(60) + ' customer A', 'x'.repeat(60) + ' customer B'],
      ['Café SMTP', 'Cafe SMTP'],
    ];
    for (const [a, b] of pairs) {
      expect(legacyUniqueNameFor(a)).toBe(legacyUniqueNameFor(b));
      expect(uniqueNameFor(a)).not.toBe(uniqueNameFor(b));
    }
  });

  it('stays readable, stable, and the same for names that differ only in case or spacing', () => {
    expect(uniqueNameFor('Scanner SMTP')).toMatch(/^sendasapp-scanner-smtp-[0-9a-f]{10}$/);
    expect(uniqueNameFor('Финансы')).toMatch(/^sendasapp-[0-9a-f]{10}$/);
    expect(uniqueNameFor('Scanner SMTP')).toBe(uniqueNameFor('  scanner   smtp '));
    expect(normalizeAppName(' A  b ')).toBe('a b');
    expect(uniqueNameFor('x'.repeat(120)).length).toBeLessThanOrEqual(61);
  });

  it('keeps the Exchange names of any app name within 64 characters', () => {
    for (const name of ['a', 'Scanner SMTP', 'x'.repeat(120), 'Финансы и продажи '.repeat(6).slice(0, 120)]) {
      const n = runNames(name);
      expect(n.scopeName.length).toBeLessThanOrEqual(64);
      expect(n.roleAssignmentName.length).toBeLessThanOrEqual(64);
    }
  });
});
