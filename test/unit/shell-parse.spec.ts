import { expect } from 'chai';
import { isRefused, parseKey, parseLevel, parseShellLine, tokenize, type ShellCommand } from '../../src/cli/shell-parse.js';

function parsed(line: string): ShellCommand {
  const c = parseShellLine(line);
  if (isRefused(c)) return expect.fail(`"${line}" refused: ${c.error}`);
  return c;
}

function refused(line: string): string {
  const c = parseShellLine(line);
  if (!isRefused(c)) return expect.fail(`"${line}" parsed as ${JSON.stringify(c)}, expected a refusal`);
  return c.error;
}

describe('cli/shell-parse', () => {
  describe('get', () => {
    it('takes a key and an optional level', () => {
      expect(parsed('get 17')).to.deep.equal({ cmd: 'get', key: 17 });
      expect(parsed('get 17 QUORUM')).to.deep.equal({ cmd: 'get', key: 17, level: 'QUORUM' });
      expect(parsed('  get   0   one  ')).to.deep.equal({ cmd: 'get', key: 0, level: 'ONE' });
      expect(parsed('get 255 ALL')).to.deep.equal({ cmd: 'get', key: 255, level: 'ALL' });
    });

    it('reads commands and levels in any case', () => {
      expect(parsed('GET 17 quorum')).to.deep.equal({ cmd: 'get', key: 17, level: 'QUORUM' });
      expect(parsed('Get 17 Two')).to.deep.equal({ cmd: 'get', key: 17, level: 'TWO' });
      expect(parsed('get 17 tHrEe')).to.deep.equal({ cmd: 'get', key: 17, level: 'THREE' });
    });

    it('refuses a missing key, extra arguments, a bad key and an unknown level', () => {
      expect(refused('get')).to.equal('get: missing key (usage: get <key> [level])');
      expect(refused('get 17 ONE extra')).to.equal('get: too many arguments (usage: get <key> [level])');
      expect(refused('get abc')).to.equal('key: expected an integer in 0..255, got "abc"');
      expect(refused('get 256')).to.equal('key: expected an integer in 0..255, got 256');
      expect(refused('get -1')).to.equal('key: expected an integer in 0..255, got "-1"');
      expect(refused('get 1.5')).to.equal('key: expected an integer in 0..255, got "1.5"');
      expect(refused('get 17 FIVE')).to.equal('level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "FIVE"');
    });
  });

  describe('put', () => {
    it('takes a key, a value and an optional level', () => {
      expect(parsed('put 17 hello')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello' });
      expect(parsed('put 17 hello one')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello', level: 'ONE' });
      expect(parsed('PUT 3 42 all')).to.deep.equal({ cmd: 'put', key: 3, value: '42', level: 'ALL' });
    });

    it('reads double-quoted values with spaces and escapes', () => {
      expect(parsed('put 17 "hello world" QUORUM')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello world', level: 'QUORUM' });
      expect(parsed('put 17 "say \\"hi\\" \\\\ bye"')).to.deep.equal({ cmd: 'put', key: 17, value: 'say "hi" \\ bye' });
      expect(parsed('put 17 "it\'s"')).to.deep.equal({ cmd: 'put', key: 17, value: "it's" });
    });

    it('reads single-quoted values literally', () => {
      expect(parsed("put 17 'hello world' two")).to.deep.equal({ cmd: 'put', key: 17, value: 'hello world', level: 'TWO' });
      expect(parsed("put 17 'a \"b\" \\n'")).to.deep.equal({ cmd: 'put', key: 17, value: 'a "b" \\n' });
    });

    it('takes an empty quoted value and joins quoted parts to the text around them', () => {
      expect(parsed('put 17 ""')).to.deep.equal({ cmd: 'put', key: 17, value: '' });
      expect(parsed("put 17 ''")).to.deep.equal({ cmd: 'put', key: 17, value: '' });
      expect(parsed('put 17 ab"c d"e')).to.deep.equal({ cmd: 'put', key: 17, value: 'abc de' });
    });

    it('keeps unicode values whole', () => {
      expect(parsed('put 9 "héllo ✓ 𝄞"')).to.deep.equal({ cmd: 'put', key: 9, value: 'héllo ✓ 𝄞' });
    });

    it('refuses missing arguments, unquoted spaces, unterminated quotes, bad keys and levels', () => {
      expect(refused('put')).to.equal('put: missing key and value (usage: put <key> <value> [level])');
      expect(refused('put 17')).to.equal('put: missing value (usage: put <key> <value> [level])');
      expect(refused('put 22 hello world')).to.equal('put: a value with spaces needs quotes: put 22 "hello world" (usage: put <key> <value> [level])');
      expect(refused('put 17 hello big world')).to.equal('put: a value with spaces needs quotes: put 17 "hello big world" (usage: put <key> <value> [level])');
      expect(refused('put 17 say "hi" QUORUM')).to.equal('put: a value with spaces needs quotes: put 17 "say hi" QUORUM (usage: put <key> <value> [level])');
      expect(refused('put 17 a\\b "c d" one')).to.equal('put: a value with spaces needs quotes: put 17 "a\\\\b c d" one (usage: put <key> <value> [level])');
      expect(refused('put 17 "hello world')).to.equal('unterminated double quote at column 8');
      expect(refused("put 17 'hello")).to.equal('unterminated single quote at column 8');
      expect(refused('put x hello')).to.equal('key: expected an integer in 0..255, got "x"');
      expect(refused('put 300 hello')).to.equal('key: expected an integer in 0..255, got 300');
      expect(refused('put 17 hello FIVE')).to.equal('level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "FIVE"');
    });
  });

  describe('the original comma syntax', () => {
    it('reads get,<key>[,level] and put,<key>,<value>[,level]', () => {
      expect(parsed('get,17,QUORUM')).to.deep.equal({ cmd: 'get', key: 17, level: 'QUORUM' });
      expect(parsed('get,17')).to.deep.equal({ cmd: 'get', key: 17 });
      expect(parsed('GET, 17 , one')).to.deep.equal({ cmd: 'get', key: 17, level: 'ONE' });
      expect(parsed('put,17,hello,ONE')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello', level: 'ONE' });
      expect(parsed('put,17,hello')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello' });
      expect(parsed('put,17,hello world,all')).to.deep.equal({ cmd: 'put', key: 17, value: 'hello world', level: 'ALL' });
    });

    it('keeps commas inside a put value when the last field is a level', () => {
      expect(parsed('put,17,a,b,c,TWO')).to.deep.equal({ cmd: 'put', key: 17, value: 'a,b,c', level: 'TWO' });
      expect(parsed('put,17,,ONE')).to.deep.equal({ cmd: 'put', key: 17, value: '', level: 'ONE' });
    });

    it('refuses bad fields', () => {
      expect(refused('get,abc,ONE')).to.equal('key: expected an integer in 0..255, got "abc"');
      expect(refused('get,')).to.equal('key: expected an integer in 0..255, got nothing');
      expect(refused('get,17,ONE,x')).to.equal('get: too many fields (usage: get,<key>[,level])');
      expect(refused('get,17,FIVE')).to.equal('level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "FIVE"');
      expect(refused('put,17')).to.equal('put: missing value (usage: put,<key>,<value>[,level])');
      expect(refused('put,17,hello,QUROUM')).to.equal('level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "QUROUM"');
    });
  });

  describe('del', () => {
    it('takes a key and an optional level, in both syntaxes', () => {
      expect(parsed('del 17')).to.deep.equal({ cmd: 'del', key: 17 });
      expect(parsed('DEL 17 all')).to.deep.equal({ cmd: 'del', key: 17, level: 'ALL' });
      expect(parsed('delete 0 ONE')).to.deep.equal({ cmd: 'del', key: 0, level: 'ONE' });
      expect(parsed('del,17')).to.deep.equal({ cmd: 'del', key: 17 });
      expect(parsed('del,17,QUORUM')).to.deep.equal({ cmd: 'del', key: 17, level: 'QUORUM' });
    });

    it('refuses a missing key, extra arguments, a bad key and an unknown level', () => {
      expect(refused('del')).to.equal('del: missing key (usage: del <key> [level])');
      expect(refused('del 17 ONE x')).to.equal('del: too many arguments (usage: del <key> [level])');
      expect(refused('del 300')).to.equal('key: expected an integer in 0..255, got 300');
      expect(refused('del 17 FIVE')).to.match(/^level: expected one of/);
      expect(refused('del,17,ONE,x')).to.equal('del: too many fields (usage: del,<key>[,level])');
      expect(refused('del,')).to.match(/^key: /);
    });
  });

  describe('shell commands', () => {
    it('reads repair, with no arguments', () => {
      expect(parsed('repair')).to.deep.equal({ cmd: 'repair' });
      expect(refused('repair now')).to.equal('repair: takes no arguments');
    });

    it('reads level, status, help, quit and exit', () => {
      expect(parsed('level')).to.deep.equal({ cmd: 'level' });
      expect(parsed('level one')).to.deep.equal({ cmd: 'level', level: 'ONE' });
      expect(parsed('LEVEL Quorum')).to.deep.equal({ cmd: 'level', level: 'QUORUM' });
      expect(parsed('status')).to.deep.equal({ cmd: 'status' });
      expect(parsed('help')).to.deep.equal({ cmd: 'help' });
      expect(parsed('?')).to.deep.equal({ cmd: 'help' });
      expect(parsed('quit')).to.deep.equal({ cmd: 'quit' });
      expect(parsed('EXIT')).to.deep.equal({ cmd: 'quit' });
    });

    it('takes tracing on, off, or nothing (show), and refuses anything else', () => {
      expect(parsed('tracing on')).to.deep.equal({ cmd: 'tracing', on: true });
      expect(parsed('TRACING OFF')).to.deep.equal({ cmd: 'tracing', on: false });
      expect(parsed('tracing')).to.deep.equal({ cmd: 'tracing' });
      expect(refused('tracing maybe')).to.equal('tracing: expected on or off, got "maybe" (usage: tracing [on|off])');
      expect(refused('tracing on off')).to.equal('tracing: expected on or off, got "on off" (usage: tracing [on|off])');
    });

    it('does nothing for blank lines and comments', () => {
      for (const line of ['', '   ', '\t', '# a comment', '  #get 17']) expect(parsed(line)).to.deep.equal({ cmd: 'none' });
    });

    it('refuses unknown commands, extra arguments and unknown levels', () => {
      expect(refused('remove 17')).to.equal('unknown command "remove" (commands: get, put, del, level, status, repair, tracing, help, quit; try help)');
      expect(refused('status now')).to.equal('status: takes no arguments');
      expect(refused('quit 1')).to.equal('quit: takes no arguments');
      expect(refused('level ONE TWO')).to.equal('level: too many arguments (usage: level [ONE|TWO|THREE|QUORUM|ALL])');
      expect(refused('level FIVE')).to.equal('level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "FIVE"');
      expect(refused('"get" "')).to.equal('unterminated double quote at column 7');
    });
  });

  describe('parseKey, parseLevel, tokenize', () => {
    it('takes keys as numbers or digit strings, nothing else', () => {
      expect(parseKey(0)).to.equal(0);
      expect(parseKey('255')).to.equal(255);
      expect(parseKey('017')).to.equal(17);
      for (const bad of [256, -1, 1.5, NaN, '1.5', '1e2', '0x10', '', ' ', 'abc', '99999999999', undefined, null, true]) {
        expect(isRefused(parseKey(bad)), `key ${String(bad)}`).to.equal(true);
      }
    });

    it('takes levels in any case, nothing else', () => {
      expect(parseLevel('quorum')).to.equal('QUORUM');
      expect(parseLevel('All')).to.equal('ALL');
      for (const bad of ['FIVE', '', 'QUORUMS', 3, undefined]) expect(isRefused(parseLevel(bad)), `level ${String(bad)}`).to.equal(true);
    });

    it('splits words shell-like', () => {
      expect(tokenize(`a  "b c"  'd e' f"g"'h'`)).to.deep.equal(['a', 'b c', 'd e', 'fgh']);
      expect(tokenize('')).to.deep.equal([]);
      expect(tokenize('"" \'\'')).to.deep.equal(['', '']);
    });
  });
});
