// Typed use of the rmtservice API from TypeScript, checked by `make clients` and
// tests/contract/test_generated_clients.py with `tsc --noEmit --strict`.
//
// "rmtservice-api" is the file openapi-typescript generates from openapi/openapi.json
// (build/clients/ts/schema.d.ts; see tsconfig.json). Nothing here is run: it only has to
// type-check, so that the committed spec keeps producing usable TypeScript types.

import type { components, paths } from "rmtservice-api";

type Schemas = components["schemas"];
export type DensityRequest = Schemas["DensityRequest"];
export type DensityResponse = Schemas["DensityResponse"];
export type OutliersRequest = Schemas["OutliersRequest"];
export type OutliersResponse = Schemas["OutliersResponse"];
export type Problem = Schemas["Problem"];
export type Measure = DensityRequest["measure"];

// The request and response bodies of the operation, as the paths table declares them.
type DensityOperation = paths["/v1/density"]["post"];
type DensityBody = DensityOperation["requestBody"]["content"]["application/json"];
type DensityOk = DensityOperation["responses"][200]["content"]["application/json"];
type DensityProblem = DensityOperation["responses"][422]["content"]["application/problem+json"];

// Defaults (num, noise.distribution) are optional in requests.
export const semicircleAtZero: DensityRequest = {
  measure: { kind: "point", at: 0.0 },
  noise: { sigma2: 1.0 },
  x: [0.0, 1.0],
};

export const onGrid: DensityBody = {
  measure: { kind: "atoms", values: [-2.0, 2.0], weights: [0.5, 0.5] },
  noise: { sigma2: 0.5, distribution: "gaussian" },
  grid: { start: -3.0, stop: 3.0, num: 7 },
};

export const mixture: Measure = {
  kind: "mixture",
  components: [
    { weight: 0.25, measure: { kind: "semicircle", center: -1.0, radius: 0.5 } },
    { weight: 0.75, measure: { kind: "uniform", low: 0.0, high: 2.0 } },
  ],
};

export const spiked: OutliersRequest = {
  measure: { kind: "point", at: 0.0 },
  noise: { sigma2: 1.0 },
  spikes: [2.0, 0.5],
};

// The discriminator `kind` narrows the measure union.
export function describe(measure: Measure): string {
  switch (measure.kind) {
    case "point":
      return `point mass at ${measure.at}`;
    case "atoms":
      return `${measure.values.length} atoms`;
    case "semicircle":
      return `semicircle(${measure.center}, ${measure.radius})`;
    default:
      return measure.kind;
  }
}

// Responses carry null where a value is undefined: the types force the check.
export function peak(response: DensityOk): number {
  let best = 0;
  for (const value of response.density) {
    if (value !== null && value > best) {
      best = value;
    }
  }
  return best;
}

export function moments(response: DensityResponse): string {
  const mean = response.mean === null ? "undefined" : response.mean.toFixed(6);
  const variance = response.variance === null ? "undefined" : response.variance.toFixed(6);
  const edges = response.support.map((c) => `[${c.lower ?? "?"}, ${c.upper ?? "?"}]`);
  return `mean ${mean}, variance ${variance}, support ${edges.join(" u ")}`;
}

export function separated(response: OutliersResponse): number[] {
  return response.outliers
    .filter((item) => item.separated && item.location !== null)
    .map((item) => item.location as number);
}

export function explain(problem: DensityProblem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`);
  return `${problem.status} ${problem.title} (${problem.type}): ${fields.join("; ") || problem.detail}`;
}

// A call with fetch: 200 is a DensityResponse, every error an RFC 9457 Problem.
export async function density(
  base: string,
  body: DensityRequest,
): Promise<DensityResponse | Problem> {
  const response = await fetch(`${base}/v1/density`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.ok) {
    return (await response.json()) as DensityResponse;
  }
  return (await response.json()) as Problem;
}

// The types are not `any`: each of these must be a compile error, or tsc reports the
// unused directive.
export const wrongKind: DensityRequest = {
  // @ts-expect-error "dirac" is not a measure kind
  measure: { kind: "dirac", at: 0.0 },
  noise: { sigma2: 1.0 },
};

// @ts-expect-error noise is required
export const noNoise: DensityRequest = { measure: { kind: "point", at: 0.0 } };

export const stringNumber: DensityRequest = {
  measure: { kind: "point", at: 0.0 },
  // @ts-expect-error sigma2 is a number, not a string
  noise: { sigma2: "1" },
};

export const unknownField: DensityRequest = {
  measure: { kind: "point", at: 0.0 },
  noise: { sigma2: 1.0 },
  // @ts-expect-error unknown fields are refused (additionalProperties: false)
  eta: 1e-3,
};

export function unchecked(response: DensityResponse): string {
  // @ts-expect-error mean may be null
  return response.mean.toFixed(3);
}
