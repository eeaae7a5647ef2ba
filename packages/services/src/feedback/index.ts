export {
  correctInteraction,
  createFeedbackDatasetVersion,
  feedbackRow,
  listDeploymentInteractions,
  MAX_FEEDBACK_ROWS,
  purgeExpiredInteractions,
  type TFeedbackDatasetInput,
  type TFeedbackFormat,
} from "./feedback.ts";
