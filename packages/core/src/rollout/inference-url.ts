/** Where the gateway listens when GATEWAY_PUBLIC_URL is not set (packages/config has the same default). */
export const DEFAULT_GATEWAY_PUBLIC_URL = "http://127.0.0.1:8080";

/**
 * The OpenAI base URL of an environment: its own `gatewayUrl` when set (one gateway per environment), otherwise
 * `<GATEWAY_PUBLIC_URL>/<projectSlug>/<environmentName>/v1` on the shared gateway. Clients POST `<base>/chat/completions`
 * with `"model": "<endpoint name>"`.
 */
export function inferenceBaseUrl(
  environment: { name: string; gatewayUrl?: string | null },
  projectSlug: string,
  gatewayPublicUrl: string = DEFAULT_GATEWAY_PUBLIC_URL,
): string {
  if (environment.gatewayUrl) return environment.gatewayUrl.replace(/\/+$/, "");
  return `${gatewayPublicUrl.replace(/\/+$/, "")}/${encodeURIComponent(projectSlug)}/${encodeURIComponent(environment.name)}/v1`;
}
