export { archivePipeline, createPipeline, getPipeline, listPipelines, updatePipeline, validatePipelineSpec, type TSpecValidation } from "./pipelines.ts";
