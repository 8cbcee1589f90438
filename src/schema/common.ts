import { z } from 'zod';

export const API_VERSION = 'astrago.io/v1';
export const apiVersion = z.literal(API_VERSION);

export const roleSchema = z.enum(['control-plane', 'worker', 'gpu-worker']);
export type Role = z.infer<typeof roleSchema>;
export const ROLES = roleSchema.options;

export const categorySchema = z.enum(['network', 'accounts', 'security', 'registry', 'resources', 'storage', 'os']);
export type Category = z.infer<typeof categorySchema>;

export const statusSchema = z.enum(['pass', 'warn', 'fail', 'skip', 'error']);
export type Status = z.infer<typeof statusSchema>;

export const langSchema = z.enum(['en', 'ko']);
export type Lang = z.infer<typeof langSchema>;

/** Environment variable names only: secrets never sit inline in a file. */
export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

export const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port');
