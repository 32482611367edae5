// The CLI's help and parsing come from one table: every option it parses is
// in the usage and the help, and nothing else parses.
import * as assert from 'assert';
import { COMMANDS, helpText, parseCommandLine, usageOf, UsageError } from '../../src/cli/commandTable';

describe('CLI command table', () => {
  it('every command and every option of it appears in its usage and in --help', () => {
    const help = helpText();
    for (const c of COMMANDS) {
      const usage = usageOf(c);
      assert.ok(help.includes(usage), `--help lacks "${usage}"`);
      for (const name of Object.keys(c.options)) assert.ok(usage.includes(`--${name}`), `${c.name}: usage lacks --${name}`);
      for (const p of c.positionals) assert.ok(usage.includes(`<${p.name}>`), `${c.name}: usage lacks <${p.name}>`);
    }
    assert.match(usageOf(COMMANDS.find((c) => c.name === 'restore')!), /--snapshots <dir>/);
  });

  it('every option in the table parses, for its own command only', () => {
    for (const c of COMMANDS) {
      const args = c.positionals.map((p) => `x-${p.name}`);
      for (const [name, o] of Object.entries(c.options)) {
        const r = parseCommandLine([c.name, ...args, `--${name}`, ...(o.type === 'string' ? ['v'] : [])]);
        assert.strictEqual(r.command?.name, c.name);
        assert.ok(r.values[name] !== undefined, `${c.name} --${name}`);
        const other = COMMANDS.find((x) => !(name in x.options))!;
        assert.throws(() => parseCommandLine([other.name, ...other.positionals.map(() => 'x'), `--${name}`, ...(o.type === 'string' ? ['v'] : [])]), UsageError, `${other.name} takes no --${name}`);
      }
    }
  });

  it('too few or too many arguments are a usage error that shows the usage', () => {
    assert.throws(() => parseCommandLine(['restore', 'only-key']), /Usage: s3-backup restore <key> <dir>/);
    assert.throws(() => parseCommandLine(['verify', 'a', 'b']), /Usage: s3-backup verify <key>/);
    assert.throws(() => parseCommandLine(['backup']), /Usage: s3-backup backup <dir>\.\.\./);
    assert.strictEqual(parseCommandLine(['backup', 'a', 'b', 'c']).positionals.length, 3);
    assert.throws(() => parseCommandLine(['frobnicate']), /Unknown command "frobnicate"/);
  });
});
