import { isDuplicateKeyError, users } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { eq } from "drizzle-orm";
import { parseSiweMessage, verifySiweMessage } from "viem/siwe";
import { z } from "zod";
import { profileOutput, sessionOutput, startSession, toProfile } from "../auth/session-response.ts";
import { sessionUserColumns } from "../auth/sessions.ts";
import {
  consumeSiweNonce,
  isCompleteSiweMessage,
  issueSiweNonce,
  siweExpectations,
  siweMessageProblem,
} from "../auth/siwe.ts";
import { enforce } from "../http/rate-limit.ts";
import { publicProcedure } from "../trpc.ts";

/** A message with a statement and a few resources fits easily; anything longer is not a sign-in. */
const MAX_MESSAGE_LENGTH = 8 * 1024;
/** An EOA signature is 65 bytes; smart-account (ERC-1271/6492) signatures can carry a factory call, so allow more. */
const MAX_SIGNATURE_LENGTH = 16 * 1024;

const siweVerifyOutput = z.discriminatedUnion("outcome", [
  /** A signed-in caller proved the wallet: it is now their account's external address. */
  z.object({ outcome: z.literal("linked"), user: profileOutput }),
  /** An anonymous caller proved a linked wallet: a new session for its account, as `auth.login` gives. */
  sessionOutput.extend({ outcome: z.literal("signedIn") }),
]);

const refuse = (message: string) => new TRPCError({ code: "UNAUTHORIZED", message });

/**
 * Sign-In with Ethereum (EIP-4361), merged into the `auth` router. Registration stays username and password: a wallet
 * signs in only to the account it was linked to.
 */
export const siweProcedures = {
  /**
   * A single-use nonce for the message the wallet will sign, with the domain, URI and chain the message must name.
   * A mutation because it stores the nonce.
   */
  siweNonce: publicProcedure
    .output(
      z.object({ nonce: z.string(), domain: z.string(), uri: z.string(), chainId: z.number(), expiresAt: z.string() }),
    )
    .mutation(async ({ ctx }) => {
      await enforce(ctx.resHeaders, ctx.deps.limits.siweNonce(ctx.meta.ip));
      const { nonce, expiresAt } = await issueSiweNonce(ctx.deps.redis, ctx.deps.config.redisPrefix);
      const expected = siweExpectations(ctx.deps.config);
      return {
        nonce,
        domain: expected.domain,
        uri: expected.origin,
        chainId: expected.chainId,
        expiresAt: expiresAt.toISOString(),
      };
    }),

  /**
   * Checks a signed EIP-4361 message: its nonce (consumed here, whatever the outcome), domain, URI and chain against
   * our own configuration, its validity window, and the signature through the chain, so smart-contract wallets work
   * too. Signed in, this links the wallet to the caller's account; anonymous, it signs in to the account the wallet is
   * linked to.
   */
  siweVerify: publicProcedure
    .input(
      z
        .object({
          message: z.string().min(1, "is required").max(MAX_MESSAGE_LENGTH, "is too long"),
          signature: z
            .string()
            .max(MAX_SIGNATURE_LENGTH, "is too long")
            .regex(/^0x([0-9a-fA-F]{2})+$/, "must be a hex signature (0x…)"),
        })
        .strict(),
    )
    .output(siweVerifyOutput)
    .mutation(async ({ ctx, input }) => {
      const { config, redis, chain, db } = ctx.deps;
      const fields = parseSiweMessage(input.message);
      if (!isCompleteSiweMessage(fields)) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "message is not a Sign-In with Ethereum (EIP-4361) message",
        });
      }
      // Gone from here on, so a nonce allows one attempt whether or not the checks below pass.
      if (!(await consumeSiweNonce(redis, config.redisPrefix, fields.nonce))) {
        throw refuse("Unknown, used or expired nonce: ask auth.siweNonce for a new one");
      }
      const now = new Date();
      const expected = siweExpectations(config);
      const problem = siweMessageProblem(fields, expected, now);
      if (problem) throw refuse(problem);
      const signed = await verifySiweMessage(chain.client, {
        message: input.message,
        signature: input.signature as `0x${string}`,
        domain: expected.domain,
        nonce: fields.nonce,
        time: now,
      });
      if (!signed) throw refuse(`The signature is not ${fields.address}'s signature of this message`);
      const address = fields.address.toLowerCase() as `0x${string}`;

      if (ctx.session) {
        const { user } = ctx.session;
        try {
          await db.update(users).set({ externalAddress: address }).where(eq(users.id, user.id));
        } catch (error) {
          if (isDuplicateKeyError(error, "users_external_address_uq")) {
            throw new TRPCError({ code: "CONFLICT", message: `${fields.address} is linked to another account` });
          }
          throw error;
        }
        return { outcome: "linked" as const, user: toProfile({ ...user, externalAddress: address }) };
      }

      const [user] = await db.select(sessionUserColumns).from(users).where(eq(users.externalAddress, address)).limit(1);
      if (!user) {
        throw new TRPCError({
          code: "NOT_FOUND",
          message: `No account is linked to ${fields.address}: sign in with your password, then link the wallet`,
        });
      }
      return { outcome: "signedIn" as const, ...(await startSession(ctx, user)) };
    }),
} satisfies TRPCRouterRecord;
