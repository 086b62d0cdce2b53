"use client";
import { useEffect, useRef, useState } from "react";

import type { Report } from "@/lib/api/types";
import { percent, seconds } from "@/lib/format";
import { useAuthedImage } from "@/lib/media";

/** One picture as the report names it: with the heatmap overlay, and plain when it has one. */
type Picture = { overlay: string; plain: string | null };

type Item = {
  key: string;
  trackId: number;
  timestamp: number;
  probability: number;
  face: Picture;
  frame: Picture | null;
};

/** The sampled faces that have a heatmap, in time order, with the report's image paths. */
function itemsOf(report: Report): Item[] {
  const items: Item[] = [];
  for (const frame of report.frames) {
    for (const face of frame.faces) {
      if (!face.heatmap) continue;
      items.push({
        key: `${frame.position}-${face.track_id}`,
        trackId: face.track_id,
        timestamp: frame.timestamp,
        probability: face.fake_probability,
        face: { overlay: face.heatmap, plain: face.crop ?? null },
        frame: frame.overlay ? { overlay: frame.overlay, plain: frame.image ?? null } : null,
      });
    }
  }
  return items;
}

/** The path to show: the overlay, unless it is switched off and a plain picture exists. */
function pathOf(picture: Picture, overlay: boolean): string {
  return overlay || !picture.plain ? picture.overlay : picture.plain;
}

function AuthedImage({ src, alt, className }: { src: string | null; alt: string; className?: string }) {
  const { url, error } = useAuthedImage(src);
  if (error) return <span className={`placeholder ${className ?? ""}`}>Image unavailable</span>;
  if (!url) return <span className={`placeholder ${className ?? ""}`}>Loading…</span>;
  // A plain <img>: object URLs (media fetched with the bearer token) cannot go through next/image.
  // eslint-disable-next-line @next/next/no-img-element -- see the line above
  return <img src={url} alt={alt} className={className} />;
}

/** A labelled on/off switch: a native checkbox, so Tab reaches it and Space flips it. */
function Toggle({ label, checked, onChange }: { label: string; checked: boolean; onChange: (on: boolean) => void }) {
  return (
    <label className="toggle">
      <input type="checkbox" role="switch" checked={checked} onChange={(event) => onChange(event.target.checked)} />
      {label}
    </label>
  );
}

type Props = {
  report: Report;
  /** The API address of a file named by a relative path in the report (null: not served). */
  urlFor: (relPath: string) => string | null;
};

/**
 * Heatmaps (class activation maps) of the sampled faces. Selecting one opens a viewer with the
 * full frame; the "Heatmap overlay" switch shows the same crops and frames without the overlay,
 * where the report names plain images.
 */
export function HeatmapGallery({ report, urlFor }: Props) {
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
  const anyPlain = items.some((item) => item.face.plain !== null);
  const describe = (picture: Picture) => (pathOf(picture, overlay) === picture.overlay ? "with its heatmap" : "without overlay");
  const shown = open ? (fullFrame && open.frame ? open.frame : open.face) : null;

  return (
    <>
      <div className="row-between">
        <p className="muted" style={{ margin: 0 }}>
          Red regions raised the “fake” score most. Select a face to see the whole frame.
        </p>
        {anyPlain && <Toggle label="Show heatmap overlay" checked={overlay} onChange={setOverlay} />}
      </div>
      <ul className="gallery" aria-label="Heatmaps of the sampled faces">
        {items.map((item) => (
          <li key={item.key}>
            <button type="button" className="thumb" onClick={() => setOpen(item)} aria-haspopup="dialog">
              <AuthedImage
                src={urlFor(pathOf(item.face, overlay))}
                alt={`Face ${item.trackId} at ${seconds(item.timestamp)}, ${describe(item.face)}`}
              />
              <span className="caption">
                {seconds(item.timestamp)} · face {item.trackId} · <strong>{percent(item.probability, 0)}</strong>
              </span>
            </button>
          </li>
        ))}
      </ul>
      <dialog ref={dialog} className="viewer" aria-labelledby="viewer-title" onClose={() => setOpen(null)}>
        {open && shown && (
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
              {open.frame && <Toggle label="Full frame" checked={fullFrame} onChange={setFullFrame} />}
              {shown.plain && <Toggle label="Heatmap overlay" checked={overlay} onChange={setOverlay} />}
            </div>
            <AuthedImage
              src={urlFor(pathOf(shown, overlay))}
              alt={`${shown === open.frame ? "Frame" : "Face crop"} at ${seconds(open.timestamp)}, ${describe(shown)}`}
            />
          </>
        )}
      </dialog>
    </>
  );
}
