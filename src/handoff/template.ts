/**
 * A small logic-less template language (a subset of Mustache) for the hand-off templates in templates/handoff/:
 *
 * - `{{name}}` a value, passed through the target's escape function (`{{a.b}}` reads a nested value, `{{.}}` the
 *   current item of a list);
 * - `{{{name}}}` the value as it is;
 * - `{{#name}}…{{/name}}` the block once per item of a list, or once when the value is truthy;
 * - `{{^name}}…{{/name}}` the block when the value is falsy or an empty list;
 * - `{{! comment }}` nothing.
 *
 * A line that holds nothing but a section tag or a comment leaves no empty line behind.
 */

export type Escape = (value: unknown) => string;

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; name: string; raw: boolean }
  | { kind: 'section'; name: string; inverted: boolean; children: Node[] };

export class TemplateError extends Error {}

const TAG = /\{\{\{\s*([\w.]+)\s*\}\}\}|\{\{\s*([#^/!]?)\s*([^}]*?)\s*\}\}/g;

function parse(source: string): Node[] {
  // Standalone section/comment lines: drop their indentation and line break.
  const text = source.replace(/^[ \t]*(\{\{[#^/!][^}]*\}\})[ \t]*\r?\n/gm, '$1');
  const root: Node[] = [];
  const stack: Array<{ name: string; children: Node[] }> = [{ name: '', children: root }];
  let last = 0;
  for (const m of text.matchAll(TAG)) {
    const top = stack[stack.length - 1]!;
    if (m.index > last) top.children.push({ kind: 'text', text: text.slice(last, m.index) });
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      top.children.push({ kind: 'value', name: m[1], raw: true });
      continue;
    }
    const sigil = m[2]!;
    const name = m[3]!;
    if (sigil === '!') continue;
    if (sigil === '#' || sigil === '^') {
      const node: Node = { kind: 'section', name, inverted: sigil === '^', children: [] };
      top.children.push(node);
      stack.push({ name, children: node.children });
    } else if (sigil === '/') {
      if (stack.length === 1 || top.name !== name)
        throw new TemplateError(`{{/${name}}} closes ${stack.length === 1 ? 'nothing' : `{{#${top.name}}}`}`);
      stack.pop();
    } else top.children.push({ kind: 'value', name, raw: false });
  }
  if (stack.length > 1) throw new TemplateError(`{{#${stack[stack.length - 1]!.name}}} is never closed`);
  if (last < text.length) root.push({ kind: 'text', text: text.slice(last) });
  return root;
}

function lookup(stack: unknown[], name: string): unknown {
  if (name === '.') return stack[stack.length - 1];
  const [head, ...rest] = name.split('.');
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i];
    if (ctx !== null && typeof ctx === 'object' && head! in (ctx as Record<string, unknown>)) {
      let v: unknown = (ctx as Record<string, unknown>)[head!];
      for (const part of rest)
        v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      return v;
    }
  }
  return undefined;
}

function renderNodes(nodes: Node[], stack: unknown[], escape: Escape, out: string[]): void {
  for (const n of nodes) {
    if (n.kind === 'text') out.push(n.text);
    else if (n.kind === 'value') {
      const v = lookup(stack, n.name);
      out.push(n.raw ? (v === undefined || v === null ? '' : String(v)) : escape(v));
    } else {
      const v = lookup(stack, n.name);
      const truthy = Array.isArray(v) ? v.length > 0 : Boolean(v);
      if (n.inverted) {
        if (!truthy) renderNodes(n.children, stack, escape, out);
      } else if (Array.isArray(v)) {
        for (const item of v) renderNodes(n.children, [...stack, item], escape, out);
      } else if (truthy) renderNodes(n.children, typeof v === 'object' ? [...stack, v] : stack, escape, out);
    }
  }
}

/** Renders `source` with `view`; values go through `escape` unless written as `{{{raw}}}`. */
export function renderTemplate(source: string, view: Record<string, unknown>, escape: Escape = plain): string {
  const out: string[] = [];
  renderNodes(parse(source), [view], escape, out);
  return out.join('');
}

export const plain: Escape = (v) => (v === undefined || v === null ? '' : String(v));
