// zod with `.openapi()`: zod 4 gives each schema its methods when it is created, so every schema that appears in the
// OpenAPI document as a parameter must be built from this import (extended before any of them exists).
import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

extendZodWithOpenApi(z);

export { z };
