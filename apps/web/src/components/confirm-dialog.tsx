"use client";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { errorMessage } from "@/lib/client/api";

interface TConfirmDialogProps {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for a reason/comment; it is passed to onConfirm and lands in the audit log. */
  withReason?: { label: string; required?: boolean };
  onConfirm: (reason: string) => Promise<unknown>;
  onClose: () => void;
}

/** A modal that keeps focus inside, closes on Escape, and shows the action's error instead of closing. */
export function ConfirmDialog({ title, children, confirmLabel, danger, withReason, onConfirm, onClose }: TConfirmDialogProps) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>("textarea, button[data-confirm]")?.focus();
    return () => previous?.focus();
  }, []);

  function onKeyDown(e: React.KeyboardEvent) {
    if (e.key === "Escape" && !busy) onClose();
    if (e.key !== "Tab" || !ref.current) return;
    const focusable = [...ref.current.querySelectorAll<HTMLElement>("button, textarea, input, select")].filter((el) => !el.hasAttribute("disabled"));
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last?.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first?.focus();
    }
  }

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const missingReason = Boolean(withReason?.required && !reason.trim());
  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && !busy && onClose()}>
      <div ref={ref} className="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" onKeyDown={onKeyDown}>
        <h2 id="dialog-title">{title}</h2>
        <form className="stack" onSubmit={submit}>
          {children ? <div>{children}</div> : null}
          {withReason ? (
            <div className="field">
              <label htmlFor="dialog-reason">{withReason.label}</label>
              <textarea id="dialog-reason" className="input" rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
            </div>
          ) : null}
          {error ? (
            <div className="alert red" role="alert">
              {errorMessage(error)}
            </div>
          ) : null}
          <div className="row" style={{ justifyContent: "flex-end" }}>
            <button type="button" className="btn" onClick={onClose} disabled={busy}>
              Cancel
            </button>
            <button type="submit" data-confirm className={`btn ${danger ? "btn-danger" : "btn-primary"}`} disabled={busy || missingReason}>
              {busy ? "Working…" : confirmLabel}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
