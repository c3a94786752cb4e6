/**
 * Writes the parts of README.md that are derived from the code: the rule list (from
 * packages/devsec/src/rules/registry.ts), the host-executed surface (from host/surface/list.ts) and
 * the VS Code user settings (from sandbox/vocabulary.ts) and the engines (sandbox/engines.ts), between their markers.
 * `npm run docs` after changing any of them; packages/devsec/src/readme.spec.ts keeps them equal.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rulesTable } from '../packages/devsec/src/rules/registry';
import { surfaceTable } from '../packages/devsec/src/host/surface/report';
import { enginesTable } from '../packages/devsec/src/sandbox/engines';
import { VSCODE_USER_SETTINGS } from '../packages/devsec/src/sandbox/vocabulary';

const vscodeSettings = () => ['```jsonc', JSON.stringify(VSCODE_USER_SETTINGS, null, 2), '```'].join('\n');

export const README = join(__dirname, '..', 'README.md');
export const DERIVED = { rules: rulesTable, surface: surfaceTable, 'vscode-settings': vscodeSettings, engines: enginesTable } as const;

/** README's text with each derived block written afresh between `<!-- name:start -->` and `<!-- name:end -->`. */
export function withDerivedBlocks(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(DERIVED)) {
    const pattern = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!pattern.test(out)) throw new Error(`README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> block`);
    out = out.replace(pattern, (_all, start: string, end: string) => `${start}${render()}\n${end}`);
  }
  return out;
}

if (require.main === module) writeFileSync(README, withDerivedBlocks(readFileSync(README, 'utf-8')));
