export { createDataset, createDatasetVersion, getDataset, listDatasets, listDatasetVersions } from "./datasets.ts";
export { datasetPathOf, datasetRoots, KUBERNETES_DATA_ROOT, measureDatasetDigest, projectDatasetPrefix, resolveInsidePrefix } from "./storage.ts";
