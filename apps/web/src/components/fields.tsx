"use client";
import { useEffect, useId, useState, type ReactNode } from "react";

interface TFieldShell {
  label: string;
  hint?: ReactNode;
  errors?: string[];
}

function FieldShell({ id, label, hint, errors, children }: TFieldShell & { id: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {errors?.length ? (
        <span className="err" id={`${id}-err`} role="alert">
          {errors.join("; ")}
        </span>
      ) : hint ? (
        <span className="hint">{hint}</span>
      ) : null}
    </div>
  );
}

export function TextField({ value, onChange, list, placeholder, ...shell }: TFieldShell & { value: string | undefined; onChange: (v: string | undefined) => void; list?: string; placeholder?: string }) {
  const id = useId();
  return (
    <FieldShell id={id} {...shell}>
      <input
        id={id}
        className="input"
        value={value ?? ""}
        list={list}
        placeholder={placeholder}
        aria-invalid={shell.errors?.length ? true : undefined}
        aria-describedby={shell.errors?.length ? `${id}-err` : undefined}
        onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
      />
    </FieldShell>
  );
}

/**
 * Keeps what the user typed ("0.", "1e-") as a draft and reports a number only once it parses, so a half-typed value
 * is not rewritten under the cursor.
 */
export function NumberField({ value, onChange, step, placeholder, ...shell }: TFieldShell & { value: unknown; onChange: (v: number | string | undefined) => void; step?: string; placeholder?: string }) {
  const id = useId();
  const external = typeof value === "number" ? String(value) : value === undefined || value === null ? "" : String(value);
  const [draft, setDraft] = useState(external);
  useEffect(() => {
    setDraft((current) => (Number(current) === Number(external) && current.trim() !== "" && external !== "" ? current : external));
  }, [external]);
  return (
    <FieldShell id={id} {...shell}>
      <input
        id={id}
        className="input"
        inputMode="decimal"
        value={draft}
        step={step}
        placeholder={placeholder}
        aria-invalid={shell.errors?.length ? true : undefined}
        aria-describedby={shell.errors?.length ? `${id}-err` : undefined}
        onChange={(e) => {
          const text = e.target.value;
          setDraft(text);
          if (text.trim() === "") onChange(undefined);
          else if (Number.isFinite(Number(text))) onChange(Number(text));
          // Not a number: pass the text on so the validator names the field instead of silently keeping the old value.
          else onChange(text);
        }}
      />
    </FieldShell>
  );
}

export function SelectField({ value, onChange, options, ...shell }: TFieldShell & { value: string | undefined; onChange: (v: string | undefined) => void; options: { value: string; label: string }[] }) {
  const id = useId();
  return (
    <FieldShell id={id} {...shell}>
      <select id={id} className="input" value={value ?? ""} aria-invalid={shell.errors?.length ? true : undefined} onChange={(e) => onChange(e.target.value || undefined)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

/** A comma-separated list typed as text: "staging, prod". */
export function ListField({ value, onChange, numeric, ...shell }: TFieldShell & { value: unknown; onChange: (v: (string | number)[] | undefined) => void; numeric?: boolean }) {
  const id = useId();
  const external = Array.isArray(value) ? value.join(", ") : "";
  const [draft, setDraft] = useState(external);
  useEffect(() => {
    setDraft((current) => (current.split(",").map((s) => s.trim()).filter(Boolean).join(", ") === external ? current : external));
  }, [external]);
  return (
    <FieldShell id={id} {...shell}>
      <input
        id={id}
        className="input"
        value={draft}
        aria-invalid={shell.errors?.length ? true : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          const items = e.target.value.split(",").map((s) => s.trim()).filter(Boolean);
          if (!items.length) onChange(undefined);
          else onChange(numeric ? items.map((s) => (Number.isFinite(Number(s)) ? Number(s) : s)) : items);
        }}
      />
    </FieldShell>
  );
}

export function CheckField({ label, checked, onChange }: { label: string; checked: boolean; onChange: (v: boolean) => void }) {
  const id = useId();
  return (
    <label htmlFor={id} className="row" style={{ gap: 6, fontWeight: 400 }}>
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}
