#!/usr/bin/env node
// Checks the message catalogues in i18n/*.json, shared by the C server and
// the web app: each is one flat object of non-empty strings, every language
// has exactly the keys of en.json, no key appears twice in a file, and each
// translation uses the same {placeholders} as the English text.
// Exits non-zero with one line per problem.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'i18n');
const REQUIRED = ['en', 'zh-Hans', 'zh-Hant', 'fr'];
const KEY_RE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$/;
const problems = [];
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

const catalogues = {};
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const lang = file.slice(0, -5);
  const text = readFileSync(join(dir, file), 'utf8');
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    problems.push(`${file}: not valid JSON: ${e.message}`);
    continue;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    problems.push(`${file}: must be one JSON object`);
    continue;
  }
  // JSON.parse keeps the last of duplicate keys silently; find them in the text.
  const seen = new Set();
  for (const m of text.matchAll(/^\s*"((?:[^"\\]|\\.)*)"\s*:/gm)) {
    if (seen.has(m[1])) problems.push(`${file}: key "${m[1]}" appears more than once`);
    seen.add(m[1]);
  }
  for (const [key, value] of Object.entries(data)) {
    if (!KEY_RE.test(key)) problems.push(`${file}: key "${key}" is not dotted lower-case`);
    if (typeof value !== 'string') problems.push(`${file}: "${key}" must be a string (flat catalogue)`);
    else if (value.trim() === '') problems.push(`${file}: "${key}" is empty`);
  }
  catalogues[lang] = data;
}

for (const lang of REQUIRED) {
  if (!catalogues[lang]) problems.push(`${lang}.json: missing`);
}

const en = catalogues.en;
if (en) {
  const enKeys = new Set(Object.keys(en));
  for (const [lang, data] of Object.entries(catalogues)) {
    if (lang === 'en') continue;
    const keys = new Set(Object.keys(data));
    for (const k of enKeys) if (!keys.has(k)) problems.push(`${lang}.json: missing key "${k}"`);
    for (const k of keys) if (!enKeys.has(k)) problems.push(`${lang}.json: key "${k}" is not in en.json`);
    for (const k of keys) {
      if (!enKeys.has(k) || typeof data[k] !== 'string' || typeof en[k] !== 'string') continue;
      if (placeholders(data[k]) !== placeholders(en[k])) {
        problems.push(`${lang}.json: "${k}" uses {${placeholders(data[k])}}, en.json uses {${placeholders(en[k])}}`);
      }
    }
  }
}

if (problems.length) {
  for (const p of problems) console.error(`check-i18n: ${p}`);
  console.error(`check-i18n: FAILED (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
  process.exit(1);
}
const langs = Object.keys(catalogues).sort();
console.log(`check-i18n: ok (${langs.length} languages: ${langs.join(', ')}; ${Object.keys(en).length} keys each)`);
