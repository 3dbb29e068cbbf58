#!/usr/bin/env node
// Tiny launcher: the whole CLI is one bundled module (see scripts/bundle.mjs).
import '../dist/tbah.mjs';
