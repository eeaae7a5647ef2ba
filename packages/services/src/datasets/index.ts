export { createDataset, createDatasetVersion, getDataset, listDatasets, listDatasetVersions } from "./datasets.ts";
export { getDatasetPage, previewDatasetRows } from "./dataset-page.ts";
export { multipartBoundary, readMultipart } from "./multipart.ts";
export { datasetPathOf, datasetRoots, KUBERNETES_DATA_ROOT, measureDatasetDigest, projectDatasetPrefix, resolveInsidePrefix } from "./storage.ts";
export { storeDatasetVersion, type TDatasetStats, type TSplitStats, type TVersionRecord, uploadDatasetVersion } from "./upload.ts";
