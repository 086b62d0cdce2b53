// Friendly names for the generated schema types: pages import from here, never from schema.d.ts.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type User = Schemas["UserPublic"];
export type AuthConfig = Schemas["AuthConfig"];
export type UploadAccepted = Schemas["VideoAccepted"];
export type VideoSummary = Schemas["VideoSummary"];
export type Video = Schemas["VideoPublic"];
export type VideoPage = Schemas["VideosPublic"];
export type VideoEvent = Schemas["VideoEvent"];
export type Report = Schemas["Report"];
export type TrackResult = Schemas["TrackResult"];
export type FrameResult = Schemas["FrameResult"];
export type FaceObservation = Schemas["FaceObservation"];
export type JobStatus = VideoSummary["status"];
