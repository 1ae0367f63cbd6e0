#!/usr/bin/env node
// Plain-node entry: teach node to load TypeScript (tsx), then run the CLI from source.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
