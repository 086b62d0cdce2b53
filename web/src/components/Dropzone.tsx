"use client";
import { useId, useRef, useState, type DragEvent } from "react";

import { acceptAttribute, formatSuffixes } from "@/lib/files";

type Props = {
  disabled: boolean;
  /** The suffixes the server takes for videos (from its config), or null before it says. */
  suffixes: readonly string[] | null;
  maxLabel: string | null;
  onFile: (file: File) => void;
};

/** Drag a video here or press the button to pick one; both paths end in `onFile`. */
export function Dropzone({ disabled, suffixes, maxLabel, onFile }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [active, setActive] = useState(false);
  const hintId = useId();

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setActive(false);
    if (disabled) return;
    const file = event.dataTransfer.files[0];
    if (file) onFile(file);
  }

  return (
    <div
      className={`dropzone${active ? " active" : ""}`}
      onDragOver={(event) => {
        event.preventDefault();
        if (!disabled) setActive(true);
      }}
      onDragLeave={() => setActive(false)}
      onDrop={onDrop}
      data-testid="dropzone"
    >
      <p className="big">Drop a video here</p>
      <p className="muted" style={{ margin: 0 }}>
        or
      </p>
      <button type="button" className="button" disabled={disabled} onClick={() => input.current?.click()} aria-describedby={hintId}>
        Choose a video…
      </button>
      <label htmlFor="video-file" className="visually-hidden">
        Video file
      </label>
      <input
        ref={input}
        id="video-file"
        type="file"
        accept={acceptAttribute(suffixes ?? [])}
        className="visually-hidden"
        tabIndex={-1}
        disabled={disabled}
        onChange={(event) => {
          const file = event.target.files?.[0];
          event.target.value = ""; // picking the same file again must fire onChange again
          if (file) onFile(file);
        }}
      />
      <p className="hint" id={hintId}>
        {suffixes ? formatSuffixes(suffixes) : "A video file"}
        {maxLabel ? `, up to ${maxLabel}` : ""}. The video is analysed on this server.
      </p>
    </div>
  );
}
