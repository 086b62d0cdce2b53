// Friendly names for the generated schema types: pages import from here, never from schema.d.ts.
import type { Client, MethodResponse } from "openapi-fetch";

import type { components, paths } from "./schema";

type Schemas = components["schemas"];

export type User = Schemas["UserPublic"];
export type AuthConfig = Schemas["AuthConfig"];
export type UploadAccepted = Schemas["VideoAccepted"];
export type VideoSummary = Schemas["VideoSummary"];
export type VideoPage = Schemas["VideosPublic"];
export type VideoEvent = Schemas["VideoEvent"];
export type JobStatus = VideoSummary["status"];

// A video with its report exactly as the client returns it: openapi-fetch reads fixed-length
// arrays (a face's `box`) as plain arrays, so the report types come from its response type.
export type Video = MethodResponse<Client<paths>, "get", "/api/videos/{video_id}">;
export type Report = NonNullable<Video["report"]>;
export type TrackResult = Report["tracks"][number];
export type FrameResult = Report["frames"][number];
export type FaceObservation = FrameResult["faces"][number];
