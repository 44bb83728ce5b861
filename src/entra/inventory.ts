/**
 * Reading every application of a tenant, page by page (for `sendasapp list`, which recognises its own apps by their
 * key or their provenance record).
 */
import type { GraphApi } from './graph.js';
import type { Application } from './application.js';

export type ListedApplication = Pick<
  Application,
  'id' | 'appId' | 'displayName' | 'uniqueName' | 'notes' | 'passwordCredentials' | 'keyCredentials'
>;

const LIST_SELECT = 'id,appId,displayName,uniqueName,notes,passwordCredentials,keyCredentials';

/** Every application of the tenant with the properties `list` needs, following @odata.nextLink. */
export async function listApplications(graph: GraphApi): Promise<ListedApplication[]> {
  const out: ListedApplication[] = [];
  let next: string | undefined = `/applications?$select=${LIST_SELECT}&$top=999`;
  while (next) {
    const page: { value?: ListedApplication[]; '@odata.nextLink'?: string } | undefined = (
      await graph.get<{ value?: ListedApplication[]; '@odata.nextLink'?: string }>(next)
    ).body;
    out.push(...(page?.value ?? []));
    next = page?.['@odata.nextLink'];
  }
  return out;
}
