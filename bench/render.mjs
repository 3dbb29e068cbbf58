#!/usr/bin/env node
// Render a results JSON of bench/run.mjs as markdown, or rewrite the generated section of a document.
// Usage: node bench/render.mjs [results.json]                     markdown on stdout
//        node bench/render.mjs [results.json] --doc docs/performance.md
//                                   replaces the text between the bench:begin/bench:end markers
// Default results: bench/results/latest.json. Plain Node; no root needed.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, replaceSection } from './lib/markdown.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let doc = null;
let file = path.join(here, 'results', 'latest.json');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--doc') doc = args[++i];
  else if (args[i].startsWith('--doc=')) doc = args[i].slice(6);
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log('usage: node bench/render.mjs [results.json] [--doc FILE]');
    process.exit(0);
  } else file = args[i];
}
if (doc === undefined) {
  console.error('render: --doc needs a file');
  process.exit(2);
}
const res = JSON.parse(readFileSync(file, 'utf8'));
if (res.schema !== 2) {
  console.error(`render: ${file} has schema ${res.schema}; this renderer reads schema 2 (bench/run.mjs of issue #17 and later)`);
  process.exit(2);
}
const md = renderMarkdown(res);
if (doc) {
  writeFileSync(doc, replaceSection(readFileSync(doc, 'utf8'), md));
  console.error(`render: ${doc} updated from ${file}`);
} else process.stdout.write(md);
