// The checks behind trace.ts's and state.ts's validation of what a reply carries: each throws a
// BadField naming the field, and `checked` turns that into the reason messages.ts refuses with.
import { eitherKind } from './keyspace.js';
import { utf8Bytes } from './messages.js'; // only inside functions: messages.ts validates with these modules
import type { Key } from './types.js';

export class BadField extends Error {}
export function bad(reason: string): never { throw new BadField(reason); }

/** Runs a parse; its value, or the reason it failed (anything else is a bug and is thrown). */
export function checked<T>(parse: () => T): T | string {
  try { return parse(); } catch (e) { if (e instanceof BadField) return e.message; throw e; }
}

export function obj(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) bad(`${what}: expected a map`);
  return x as Record<string, unknown>;
}
export function uint(x: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) bad(`${what}: expected an integer in 0..${max}`);
  return x;
}
/** A finite number, not negative (a rate, a latency in ms with its fraction). */
export function num(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > Number.MAX_SAFE_INTEGER) bad(`${what}: expected a number`);
  return x;
}
export function oneOf<T extends string>(x: unknown, options: readonly T[], what: string): T {
  if (typeof x !== 'string' || !(options as readonly string[]).includes(x)) bad(`${what}: expected one of ${options.join(', ')}`);
  return x as T;
}
export function text(x: unknown, what: string, bytesMax: number): string {
  if (typeof x !== 'string' || !x.isWellFormed() || utf8Bytes(x) > bytesMax) bad(`${what}: expected text of at most ${bytesMax} bytes`);
  return x;
}
/** A key as a reply reports it (either partitioner's kind: the reply is read by kvc, which may not know which). */
export function keyField(x: unknown, what: string): Key {
  if (!eitherKind.isKey(x)) bad(`${what}: expected ${eitherKind.expected}`);
  return x;
}
export function list(x: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(x) || x.length > max) bad(`${what}: expected at most ${max} entries`);
  return x;
}
