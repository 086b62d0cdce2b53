"use client";
// What this server allows, read once per page load from the API: whether sign-up is open, the
// external sign-in provider, the upload size limit and the file suffixes taken for videos.
import { useEffect, useState } from "react";

import { api } from "./api/client";
import type { AuthConfig } from "./api/types";

export type ServerInfo = {
  loaded: boolean;
  auth: AuthConfig | null;
  /** The largest upload the server accepts, or null when it does not say. */
  maxUploadBytes: number | null;
  /** File suffixes the server takes for videos (".mp4", ...), or null when it does not say. */
  videoSuffixes: string[] | null;
};

const UNKNOWN: ServerInfo = { loaded: false, auth: null, maxUploadBytes: null, videoSuffixes: null };

let cached: Promise<ServerInfo> | null = null;

async function load(): Promise<ServerInfo> {
  const result = await api.GET("/api/auth/config");
  const auth = result.data ?? null;
  return { loaded: true, auth, maxUploadBytes: auth?.max_upload_bytes ?? null, videoSuffixes: auth?.video_suffixes ?? null };
}

/** The server's configuration (fetched once and shared); never throws: unknown parts are null. */
export function useServerInfo(): ServerInfo {
  const [info, setInfo] = useState<ServerInfo>(UNKNOWN);
  useEffect(() => {
    let live = true;
    cached ??= load().catch(() => {
      cached = null; // server down: try again on the next page
      return { ...UNKNOWN, loaded: true };
    });
    void cached.then((value) => live && setInfo(value));
    return () => {
      live = false;
    };
  }, []);
  return info;
}
