"use client";
import { useEffect, useRef, useState } from "react";

import type { Report } from "@/lib/api/types";
import { percent, seconds } from "@/lib/format";
import { useAuthedImage } from "@/lib/media";

type Item = {
  key: string;
  trackId: number;
  position: number;
  timestamp: number;
  probability: number;
  heatmap: string;
  frameOverlay: string | null;
};

/** The sampled faces that have a heatmap, in time order. */
function itemsOf(report: Report): Item[] {
  const items: Item[] = [];
  for (const frame of report.frames) {
    for (const face of frame.faces) {
      if (!face.heatmap) continue;
      items.push({
        key: `${frame.position}-${face.track_id}`,
        trackId: face.track_id,
        position: frame.position,
        timestamp: frame.timestamp,
        probability: face.fake_probability,
        heatmap: face.heatmap,
        frameOverlay: frame.overlay ?? null,
      });
    }
  }
  return items;
}

function AuthedImage({ src, alt, className }: { src: string | null; alt: string; className?: string }) {
  const { url, error } = useAuthedImage(src);
  if (error) return <span className={`placeholder ${className ?? ""}`}>Image unavailable</span>;
  if (!url) return <span className={`placeholder ${className ?? ""}`}>Loading…</span>;
  // eslint-disable-next-line @next/next/no-img-element -- object URLs are not optimisable
  return <img src={url} alt={alt} className={className} />;
}

type Props = {
  report: Report;
  /** The API address of a file named by a relative path in the report (null: not served). */
  urlFor: (relPath: string) => string | null;
  /** The plain (no heatmap) image for a report path, when the API offers one. */
  plainUrlFor?: (relPath: string) => string | null;
};

/**
 * Grad-CAM heatmaps of the sampled faces. Selecting one opens a viewer with the full frame; the
 * toggle switches between the heatmap overlay and the plain image where the API serves both.
 */
export function HeatmapGallery({ report, urlFor, plainUrlFor }: Props) {
  const items = itemsOf(report);
  const [overlay, setOverlay] = useState(true);
  const [open, setOpen] = useState<Item | null>(null);
  const [fullFrame, setFullFrame] = useState(true);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    if (open && !dialog.current?.open) dialog.current?.showModal();
    if (!open && dialog.current?.open) dialog.current.close();
  }, [open]);

  if (items.length === 0) {
    return <p className="muted">No heatmaps were produced for this video.</p>;
  }
  const canToggle = Boolean(plainUrlFor);
  const pick = (rel: string | null) => (rel ? (overlay || !plainUrlFor ? urlFor(rel) : plainUrlFor(rel)) : null);
  const viewerRel = open ? (fullFrame && open.frameOverlay ? open.frameOverlay : open.heatmap) : null;

  return (
    <>
      <div className="row-between">
        <p className="muted" style={{ margin: 0 }}>
          Red regions raised the “fake” score most. Select a face to see the whole frame.
        </p>
        {canToggle && (
          <label className="toggle">
            <input type="checkbox" checked={overlay} onChange={(event) => setOverlay(event.target.checked)} />
            Show heatmap overlay
          </label>
        )}
      </div>
      <ul className="gallery" aria-label="Heatmaps of the sampled faces">
        {items.map((item) => (
          <li key={item.key}>
            <button type="button" className="thumb" onClick={() => setOpen(item)} aria-haspopup="dialog">
              <AuthedImage src={pick(item.heatmap)} alt={`Face ${item.trackId} at ${seconds(item.timestamp)}`} />
              <span className="caption">
                {seconds(item.timestamp)} · face {item.trackId} · <strong>{percent(item.probability, 0)}</strong>
              </span>
            </button>
          </li>
        ))}
      </ul>
      <dialog ref={dialog} className="viewer" aria-labelledby="viewer-title" onClose={() => setOpen(null)}>
        {open && (
          <>
            <div className="row-between">
              <h3 id="viewer-title" style={{ margin: 0 }}>
                Face {open.trackId} at {seconds(open.timestamp)}: {percent(open.probability)} fake
              </h3>
              <button type="button" className="button secondary small" onClick={() => setOpen(null)}>
                Close
              </button>
            </div>
            <div className="actions" style={{ marginTop: "0.5rem" }}>
              {open.frameOverlay && (
                <label className="toggle">
                  <input type="checkbox" checked={fullFrame} onChange={(event) => setFullFrame(event.target.checked)} />
                  Full frame
                </label>
              )}
              {canToggle && (
                <label className="toggle">
                  <input type="checkbox" checked={overlay} onChange={(event) => setOverlay(event.target.checked)} />
                  Heatmap overlay
                </label>
              )}
            </div>
            <AuthedImage
              src={pick(viewerRel)}
              alt={`${fullFrame && open.frameOverlay ? "Frame" : "Face crop"} at ${seconds(open.timestamp)} with its heatmap`}
            />
          </>
        )}
      </dialog>
    </>
  );
}
