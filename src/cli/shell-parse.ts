// What a person types, as data: kvc shell lines and the key and level arguments of every command.
// Pure: no IO, nothing thrown; a line is either a command or the reason it was refused.
import { byteOrdered, parseKey as parseKeyIn, type KeySpace } from '../core/keyspace.js';
import { parseLevel } from '../core/quorum.js';
import type { Key, Level } from '../core/types.js';

export type ShellCommand =
  | { cmd: 'get'; key: Key; level?: Level }
  | { cmd: 'put'; key: Key; value: string; level?: Level }
  | { cmd: 'del'; key: Key; level?: Level }
  /** An anti-entropy round of the shell's coordinator with every peer. */
  | { cmd: 'repair' }
  /** Without a level: show the default level. */
  | { cmd: 'level'; level?: Level }
  | { cmd: 'status' }
  /** Without on/off: show whether requests are traced. */
  | { cmd: 'tracing'; on?: boolean }
  | { cmd: 'help' }
  | { cmd: 'quit' }
  /** A blank line or a `#` comment: nothing to do. */
  | { cmd: 'none' };

export type Refused = { error: string };
export type Parsed<T> = T | Refused;

export const usage = {
  get: 'get <key> [level]',
  put: 'put <key> <value> [level]',
  del: 'del <key> [level]',
  level: 'level [ONE|TWO|THREE|QUORUM|ALL]',
} as const;

/** Shell line length bound: a value at the ceiling, quoted and escaped, still fits. */
export const shellLineCharsMax = 256 * 1024;

export function isRefused(x: unknown): x is Refused {
  return typeof x === 'object' && x !== null && 'error' in x;
}

/** A key as typed, checked by the key space (keyspace.ts): byte-ordered 0..255 by default. */
export function parseKey(x: unknown, keys: KeySpace = byteOrdered): Parsed<Key> {
  return parseKeyIn(x, keys);
}

export { parseLevel };

/** `keys`: the cluster's key space, which says what a key is (byte-ordered 0..255 by default). */
export function parseShellLine(line: string, keys: KeySpace = byteOrdered): Parsed<ShellCommand> {
  if (line.length > shellLineCharsMax) return { error: `line: ${line.length} characters, over the limit of ${shellLineCharsMax}` };
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { cmd: 'none' };
  if (/^(get|put|del)\s*,/i.test(trimmed)) return parseCommaLine(trimmed, keys);
  const tokens = tokenize(trimmed);
  if (isRefused(tokens)) return tokens;
  const [name = '', ...args] = tokens;
  switch (name.toLowerCase()) {
    case 'get': return parseGet(args, keys);
    case 'put': return parsePut(args, keys);
    case 'del': case 'delete': return parseDel(args, keys);
    case 'repair': return noArgs('repair', args);
    case 'level': return parseLevelCommand(args);
    case 'status': return noArgs('status', args);
    case 'tracing': return parseTracing(args);
    case 'help': case '?': return noArgs('help', args);
    case 'quit': case 'exit': return noArgs('quit', args);
    default: return { error: `unknown command ${JSON.stringify(shorten(name))} (commands: get, put, del, level, status, repair, tracing, help, quit; try help)` };
  }
}

/** `tracing on|off` (Cassandra's TRACING ON): every later get, put, del and repair prints its trace. */
function parseTracing(args: string[]): Parsed<ShellCommand> {
  if (args.length === 0) return { cmd: 'tracing' };
  const word = args.length === 1 ? args[0]!.toLowerCase() : '';
  if (word === 'on' || word === 'off') return { cmd: 'tracing', on: word === 'on' };
  return { error: `tracing: expected on or off, got ${JSON.stringify(shorten(args.join(' ')))} (usage: tracing [on|off])` };
}

function parseGet(args: string[], keys: KeySpace): Parsed<ShellCommand> {
  if (args.length < 1) return { error: `get: missing key (usage: ${usage.get})` };
  if (args.length > 2) return { error: `get: too many arguments (usage: ${usage.get})` };
  return withLevel({ cmd: 'get', key: args[0] }, args[1], keys);
}

function parseDel(args: string[], keys: KeySpace): Parsed<ShellCommand> {
  if (args.length < 1) return { error: `del: missing key (usage: ${usage.del})` };
  if (args.length > 2) return { error: `del: too many arguments (usage: ${usage.del})` };
  return withLevel({ cmd: 'del', key: args[0] }, args[1], keys);
}

function parsePut(args: string[], keys: KeySpace): Parsed<ShellCommand> {
  if (args.length < 1) return { error: `put: missing key and value (usage: ${usage.put})` };
  if (args.length < 2) return { error: `put: missing value (usage: ${usage.put})` };
  const last = args[args.length - 1] ?? '';
  const endsWithLevel = !isRefused(parseLevel(last));
  // `put 22 hello world`: words past the value that are not a level are most likely more value.
  // A last word in capitals (`put 17 hello FIVE`) was meant as a level: that error says more.
  const meantAsLevel = args.length === 3 && /^[A-Z]+$/.test(last);
  if (args.length > 3 || (args.length === 3 && !endsWithLevel && !meantAsLevel)) {
    const words = endsWithLevel ? args.slice(1, -1) : args.slice(1);
    const keyText = keys.partitioner === 'hashed' && /[\s"'\\]/.test(args[0] ?? '') ? quoteDouble(args[0] ?? '') : args[0];
    const quoted = `put ${keyText} ${quoteDouble(words.join(' '))}${endsWithLevel ? ` ${last}` : ''}`;
    return { error: `put: a value with spaces needs quotes: ${quoted} (usage: ${usage.put})` };
  }
  return withLevel({ cmd: 'put', key: args[0], value: args[1] ?? '' }, args[2], keys);
}

/** The double-quoted form tokenize reads back as `s`. */
function quoteDouble(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

function parseLevelCommand(args: string[]): Parsed<ShellCommand> {
  if (args.length > 1) return { error: `level: too many arguments (usage: ${usage.level})` };
  if (args[0] === undefined) return { cmd: 'level' };
  const level = parseLevel(args[0]);
  return isRefused(level) ? level : { cmd: 'level', level };
}

function noArgs(cmd: 'status' | 'repair' | 'help' | 'quit', args: string[]): Parsed<ShellCommand> {
  return args.length === 0 ? { cmd } : { error: `${cmd}: takes no arguments` };
}

/** get/put/del with the key still text: check the key and the optional level, drop an absent level. */
function withLevel(
  c: { cmd: 'get' | 'del'; key: string | undefined } | { cmd: 'put'; key: string | undefined; value: string },
  levelText: string | undefined,
  keys: KeySpace,
): Parsed<ShellCommand> {
  const key = parseKeyIn(c.key, keys);
  if (isRefused(key)) return key;
  const base: Extract<ShellCommand, { level?: Level }> = c.cmd === 'put' ? { cmd: 'put', key, value: c.value } : { cmd: c.cmd, key };
  if (levelText === undefined) return base;
  const level = parseLevel(levelText);
  return isRefused(level) ? level : { ...base, level };
}

/**
 * The original tool's syntax: `get,17,QUORUM`, `put,17,hello,ONE` and `del,17,ALL`. A put with four or more
 * fields takes the last as its level and the fields between as the value, so a value may hold
 * commas; a level that is not one is refused rather than stored as part of the value.
 */
function parseCommaLine(line: string, keys: KeySpace): Parsed<ShellCommand> {
  const fields = line.split(',');
  const name = (fields[0] ?? '').trim().toLowerCase();
  const keyText = fields[1]?.trim();
  if (name === 'get' || name === 'del') {
    if (fields.length > 3) return { error: `${name}: too many fields (usage: ${name},<key>[,level])` };
    return withLevel({ cmd: name, key: keyText === '' ? undefined : keyText }, fields[2]?.trim(), keys);
  }
  if (fields.length < 3) return { error: 'put: missing value (usage: put,<key>,<value>[,level])' };
  if (fields.length === 3) return withLevel({ cmd: 'put', key: keyText, value: fields[2] ?? '' }, undefined, keys);
  const value = fields.slice(2, -1).join(',');
  return withLevel({ cmd: 'put', key: keyText, value }, (fields[fields.length - 1] ?? '').trim(), keys);
}

/**
 * Splits on whitespace, shell-like: "double quotes" take \" and \\ escapes, 'single quotes' are
 * literal, and quoted parts join the text around them into one word (so "" is an empty word).
 */
export function tokenize(line: string): Parsed<string[]> {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === '"' || c === "'") {
      const end = quotedEnd(line, i);
      if (end < 0) return { error: `unterminated ${c === '"' ? 'double' : 'single'} quote at column ${i + 1}` };
      word += c === '"' ? unescapeDouble(line.slice(i + 1, end)) : line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Index of the quote closing the one at `start`, or -1. */
function quotedEnd(line: string, start: number): number {
  const quote = line[start];
  for (let i = start + 1; i < line.length; i++) {
    if (quote === '"' && line[i] === '\\') i++;
    else if (line[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\(["\\])/g, '$1');
}

function shorten(s: string): string {
  return s.length > 20 ? s.slice(0, 20) + '…' : s;
}
