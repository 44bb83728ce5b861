/**
 * The application's `tags`: short strings on the app registration (they also show on its service principals). A
 * resource that must know later what it made keeps its record there, under its own prefix; tags of others stay as
 * they are (every write sends the whole list, as Graph replaces the collection).
 */
import { GraphApi, isReplicationLag } from './graph.js';

/** Entra's longest tag. */
export const APP_TAG_MAX = 256;

/** The app's tags (a just-created app is waited for while the directory replicates it). */
export async function readAppTags(graph: GraphApi, appObjectId: string): Promise<string[]> {
  const { body } = await graph.untilReplicated(
    'reading the application tags',
    () => graph.get<{ tags?: string[] | null }>(`/applications/${appObjectId}?$select=id,tags`),
    isReplicationLag,
  );
  return body?.tags ?? [];
}

/** Replaces the app's tags with `tags` (PATCH sends the whole collection). */
export async function writeAppTags(graph: GraphApi, appObjectId: string, tags: string[]): Promise<void> {
  await graph.untilReplicated(
    'writing the application tags',
    () => graph.request('PATCH', `/applications/${appObjectId}`, { tags }),
    isReplicationLag,
  );
}

/**
 * Keeps the tags outside `prefix` and replaces those under it by `ours` (each prefixed). Pure; the order of the
 * others is kept.
 */
export function withTagsUnder(tags: string[], prefix: string, ours: string[]): string[] {
  return [...tags.filter((t) => !t.startsWith(prefix)), ...ours.map((t) => `${prefix}${t}`)];
}

/** The tags under `prefix`, without it. */
export function tagsUnder(tags: string[], prefix: string): string[] {
  return tags.filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length));
}
