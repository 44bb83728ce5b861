/**
 * Teardown in Entra: the SMTP.SendAsApp grant (app role assignment), the service principal, the application
 * (soft-deleted: it stays in the directory's deleted items for 30 days) and its removal from deleted items. Each
 * treats "already gone" (404) as done, so that a teardown run again after a crash converges.
 */
import { GraphApi, GraphRequestError } from './graph.js';

const gone = (err: unknown): boolean => err instanceof GraphRequestError && err.status === 404;

async function deleteOrGone(graph: GraphApi, path: string): Promise<boolean> {
  try {
    await graph.request('DELETE', path, undefined, { idempotent: true });
    return true;
  } catch (err) {
    if (gone(err)) return false;
    throw err;
  }
}

/** Removes one app role assignment of a service principal (the admin consent of an application permission). */
export function revokeAppRole(graph: GraphApi, principalId: string, assignmentId: string): Promise<boolean> {
  return deleteOrGone(graph, `/servicePrincipals/${principalId}/appRoleAssignments/${assignmentId}`);
}

/** Deletes a service principal (the enterprise application) of a tenant; its app role assignments go with it. */
export function deleteServicePrincipal(graph: GraphApi, id: string): Promise<boolean> {
  return deleteOrGone(graph, `/servicePrincipals/${id}`);
}

/** Deletes an application: Entra keeps it in deleted items (restorable) for 30 days. */
export function deleteApplication(graph: GraphApi, id: string): Promise<boolean> {
  return deleteOrGone(graph, `/applications/${id}`);
}

export interface DeletedApplication {
  id: string;
  appId: string;
  displayName: string | null;
  uniqueName?: string | null;
  deletedDateTime: string | null;
}

/** A deleted application still in deleted items (undefined when it is not there: never deleted, or purged). */
export function readDeletedApplication(graph: GraphApi, id: string): Promise<DeletedApplication | undefined> {
  return graph.find<DeletedApplication>(
    `/directory/deletedItems/${id}?$select=id,appId,displayName,uniqueName,deletedDateTime`,
  );
}

/** Removes a deleted application from deleted items for good (`DELETE /directory/deletedItems/{id}`). */
export function purgeDeletedItem(graph: GraphApi, id: string): Promise<boolean> {
  return deleteOrGone(graph, `/directory/deletedItems/${id}`);
}

/**
 * A deleted application of ours in deleted items, by its key (uniqueName): a teardown that was stopped after the
 * delete finds it there (to purge it, and to read its record). Deleted items are listed and matched here.
 */
export async function findDeletedApplication(
  graph: GraphApi,
  uniqueNames: string[],
): Promise<(DeletedApplication & { notes?: string | null }) | undefined> {
  const keys = new Set(uniqueNames.map((n) => n.toLowerCase()));
  const res = await graph.get<{ value?: Array<DeletedApplication & { notes?: string | null }> }>(
    '/directory/deletedItems/microsoft.graph.application?$select=id,appId,displayName,uniqueName,notes,deletedDateTime&$top=999',
  );
  return (res.body?.value ?? []).find((a) => keys.has((a.uniqueName ?? '').toLowerCase()));
}
