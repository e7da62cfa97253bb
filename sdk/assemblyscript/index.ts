// The package entry: `import { ... } from "@sluicehq/sluice-sdk"` resolves here (the AssemblyScript compiler
// looks for index.ts at the package root). The API is in assembly/index.ts.
export * from "./assembly/index";
