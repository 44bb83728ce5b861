/**
 * A world with a partner tenant and GDAP relationships: the partner's admin agent reaches fabrikam (Cloud Application
 * Administrator + Exchange Administrator, active), contoso (expired three days ago) and tailspin (Application
 * Administrator only).
 */
import type { Seed } from '../../src/emulator/seed.js';

export const PARTNER = 'partner.onmicrosoft.com';
export const CUSTOMER = 'fabrikam.onmicrosoft.com';
export const EXPIRED = 'contoso.onmicrosoft.com';
export const THIN = 'tailspin.onmicrosoft.com';
export const AGENT = `agent@${PARTNER}`;

export const GDAP_SEED: Seed = {
  tenants: [
    { domain: EXPIRED },
    { domain: CUSTOMER },
    { domain: THIN },
    { domain: PARTNER, mailboxes: ['agent', 'other'], groups: [] },
  ],
  delegatedAdmin: [
    {
      partner: PARTNER,
      customer: CUSTOMER,
      displayName: 'Contoso MSP - Fabrikam',
      roles: ['Cloud Application Administrator', 'Exchange Administrator'],
      agents: ['agent'],
    },
    { partner: PARTNER, customer: EXPIRED, roles: ['Global Administrator'], endsInDays: -3 },
    { partner: PARTNER, customer: THIN, displayName: 'Thin', roles: ['Application Administrator'] },
  ],
};
