import type { TRoute } from "../api/route.ts";
import * as datasets from "./datasets.ts";
import * as deployments from "./deployments.ts";
import * as feedback from "./feedback.ts";
import * as ingest from "./ingest.ts";
import * as projects from "./projects.ts";
import * as registry from "./registry.ts";
import * as releases from "./releases.ts";
import * as runs from "./runs.ts";
import * as settings from "./settings.ts";
import * as sweeps from "./sweeps.ts";
import * as webhooks from "./webhooks.ts";

/** Every /api/v1 operation: the OpenAPI document and the route inventory test are built from this list. */
export const API_ROUTES: TRoute[] = [projects, datasets, runs, registry, deployments, feedback, releases, settings, webhooks, ingest, sweeps].flatMap((m) => Object.values(m) as TRoute[]);
