export { createDataset, createDatasetVersion, getDataset, listDatasets, listDatasetVersions } from "./datasets.ts";
