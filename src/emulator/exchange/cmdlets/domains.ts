/**
 * Get-AcceptedDomain: the SMTP domains the organization accepts mail for (its verified domains). Rows carry the
 * properties scripts read: Name, Identity, DomainName, DomainType, Default, InitialDomain.
 */
import { str } from '../params.js';
import { output, type Row } from '../model.js';
import type { CmdletDefinition } from './common.js';
import type { TenantRecord } from '../../state.js';

function acceptedDomainRow(tenant: TenantRecord, domain: string, index: number): Row {
  return {
    Name: domain,
    Identity: domain,
    DomainName: domain,
    DomainType: 'Authoritative',
    Default: index === 0,
    InitialDomain: index === 0 && /\.onmicrosoft\.(com|us|cn)$/i.test(domain),
    MatchSubDomains: false,
    IsValid: true,
  };
}

export const domainCmdlets: CmdletDefinition[] = [
  {
    name: 'Get-AcceptedDomain',
    params: [str('Identity')],
    run({ tenant }, p) {
      const identity = p.string('Identity');
      const rows = tenant.domains.map((d, i) => acceptedDomainRow(tenant, d, i));
      if (!identity) return output(rows);
      return output(rows.filter((r) => String(r.DomainName).toLowerCase() === identity.trim().toLowerCase()));
    },
  },
];
