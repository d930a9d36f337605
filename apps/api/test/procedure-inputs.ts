import { z } from "zod";

/** A router procedure as the test suites see it: its zod input schemas. */
export type ProcedureWithInputs = { _def: { inputs: unknown[] } };

/**
 * The top-level field names of a procedure's input, seen through defaults, optionals and the preprocess pipe that
 * multipart procedures put in front of their object schema. Empty for procedures without an object input.
 */
export function inputKeys(procedure: unknown): string[] {
  let current = (procedure as ProcedureWithInputs)._def.inputs[0] as z.ZodType;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.out as z.ZodType;
    else break;
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}
