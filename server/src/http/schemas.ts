/** The wire shapes live in @vista3d/models' contract (one place for server and viewer); the server validates with them. */
export { ErrorSchema, HealthSchema, InferenceRequestSchema, InfoSchema, PrepareRequestSchema, PromptsSchema, type InferenceRequest, type InfoView } from '@vista3d/models';
