// The manifest and the package, in plain Node: the walkthrough is contributed
// with media that exists in every language, and the .vsix (packed by the same
// packer as npm start and the e2e run) carries the user README and every
// image that README shows.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import JSZip from 'jszip';
import { LANGUAGES } from './languages';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string };
  completionEvents?: string[];
}
interface Manifest {
  contributes: {
    commands: Array<{ command: string }>;
    walkthroughs?: Array<{ id: string; title: string; description: string; steps: Step[] }>;
  };
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;

/** The images a Markdown text shows, `![alt](path)` and `<img src>`. */
function imagesOf(md: string): string[] {
  return [...md.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g), ...md.matchAll(/<img[^>]+src="([^"]+)"/g)].map((m) => m[1]);
}

describe('walkthrough', () => {
  const walkthroughs = manifest.contributes.walkthroughs ?? [];

  it('is contributed: configure, test, back up, restore on another machine', () => {
    assert.strictEqual(walkthroughs.length, 1);
    assert.deepStrictEqual(walkthroughs[0].steps.map((s) => s.id), ['configure', 'test', 'backUp', 'restore']);
    for (const s of walkthroughs[0].steps) {
      assert.match(s.title, /^%walkthrough\..+%$/, `${s.id}: the title is localized through package.nls`);
      assert.match(s.description, /^%walkthrough\..+%$/, `${s.id}: the description is localized through package.nls`);
    }
  });

  it('each step completes on something the extension really does', () => {
    const commands = new Set(manifest.contributes.commands.map((c) => c.command));
    // Context keys the extension sets (src/extension/tree/backupsProvider.ts).
    const contextKeys = new Set(['s3Backup.configured', 's3Backup.empty']);
    for (const s of walkthroughs[0].steps) {
      assert.ok(s.completionEvents && s.completionEvents.length > 0, `${s.id} never completes`);
      for (const e of s.completionEvents) {
        const [kind, arg] = e.split(':');
        if (kind === 'onCommand') assert.ok(commands.has(arg), `${s.id}: ${e} is not a contributed command`);
        else if (kind === 'onContext') assert.ok(contextKeys.has(arg), `${s.id}: ${e} is not a context key the extension sets`);
        else assert.fail(`${s.id}: unexpected completion event ${e}`);
      }
    }
  });

  it('every step has its Markdown, in English and in each translated language', () => {
    const nls = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;
    for (const s of walkthroughs[0].steps) {
      assert.ok(s.media.markdown, `${s.id} has no Markdown media`);
      const file = path.join(ROOT, s.media.markdown);
      assert.ok(fs.existsSync(file), `${s.media.markdown} is missing`);
      // VS Code reads <name>.nls.<language>.md for the display language.
      for (const lang of LANGUAGES) {
        const localized = file.replace(/\.md$/, `.nls.${lang}.md`);
        assert.ok(fs.existsSync(localized), `${path.relative(ROOT, localized)} is missing`);
        assert.notStrictEqual(fs.readFileSync(localized, 'utf8'), fs.readFileSync(file, 'utf8'), `${path.relative(ROOT, localized)} is not translated`);
      }
      const key = s.description.slice(1, -1);
      assert.match(nls[key] ?? '', /\(command:s3Backup\.\w+\)/, `${s.id}: the description offers a button`);
    }
    const configure = fs.readFileSync(path.join(ROOT, 'media', 'walkthrough', 'configure.md'), 'utf8');
    assert.match(configure, /Keep the bucket private/, 'the first step gives the private-bucket advice');
  });
});

describe('the .vsix', function () {
  this.timeout(120000);
  let zip: JSZip;
  let tmp: string;

  before(async function () {
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'extension.js')), 'dist/extension.js is missing: run `node esbuild.js` first');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-vsix-'));
    const { packVsix } = require(path.join(ROOT, 'scripts', 'packVsix.js')) as { packVsix(out: string): Promise<{ file: string }> };
    const { file } = await packVsix(path.join(tmp, 's3-backup.vsix'));
    zip = await JSZip.loadAsync(fs.readFileSync(file));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('has the user README, not the developers\' one', async () => {
    const readme = await zip.file('extension/readme.md')?.async('string');
    assert.ok(readme, 'no extension/readme.md in the package');
    assert.match(readme, /## Settings per provider/);
    assert.match(readme, /Keep the bucket private/);
    assert.ok(!/npm (start|test)/.test(readme), 'the user README shows developer commands');
    const repoReadme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.match(repoReadme.split('\n').slice(0, 6).join('\n'), /npm start[\s\S]*npm test/, 'the repository README starts with npm start and npm test');
  });

  it('ships every image the README shows, at the path the details page resolves', async () => {
    const readme = (await zip.file('extension/readme.md')!.async('string')) ?? '';
    const images = imagesOf(readme);
    assert.ok(images.length >= 5, `only ${images.length} images in the README`);
    for (const img of images) {
      assert.ok(!/^\w+:/.test(img), `${img}: a relative path resolves inside the installed extension`);
      const entry = zip.file(path.posix.join('extension', img));
      assert.ok(entry, `${img} is not in the package`);
      const head = Buffer.from(await entry.async('uint8array')).subarray(0, 8);
      assert.strictEqual(head.toString('hex'), '89504e470d0a1a0a', `${img} is not a PNG`);
    }
  });

  it('ships the walkthrough media and the translations', () => {
    for (const s of manifest.contributes.walkthroughs![0].steps) {
      assert.ok(zip.file(`extension/${s.media.markdown}`), `${s.media.markdown} is not in the package`);
    }
    for (const lang of LANGUAGES) {
      assert.ok(zip.file(`extension/l10n/bundle.l10n.${lang}.json`), `bundle.l10n.${lang}.json is not in the package`);
      assert.ok(zip.file(`extension/package.nls.${lang}.json`), `package.nls.${lang}.json is not in the package`);
    }
    assert.strictEqual(zip.file(/README\.md$/).length, 0, 'the repository README is in the package too');
  });
});
