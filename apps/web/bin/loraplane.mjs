#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (workspace packages ship TypeScript sources, no build step).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/index.ts");
