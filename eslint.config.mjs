import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**", "**/.next/**", "**/dist/**", "**/generated/**", "gpu-runtime/**", "**/.loraplane/**",
      "**/next-env.d.ts", "**/coverage/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      // Environment is read in exactly one module per process: packages/config.
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration through @loraplane/config." }],
    },
  },
  {
    files: ["packages/config/**", "scripts/**", "bench/**", "**/*.config.{ts,mjs,js}", "prisma.config.ts", "**/test/**", "tests/**", "**/*.test.ts"],
    rules: { "no-restricted-properties": "off" },
  },
);
