// Every queue this worker consumes, with its processor. Add a line here to register another queue's processor
// (the rollout controller registers its own the same way).
import type { TProcessorRegistration } from "./types.ts";
import { pipelineProcessors } from "./pipeline.ts";
import { rolloutProcessors } from "../rollout/processor.ts";

export const processors: TProcessorRegistration[] = [
  ...pipelineProcessors,
  ...rolloutProcessors,
];
