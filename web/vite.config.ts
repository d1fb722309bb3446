/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the same build works at a CloudFront root and under the local emulator.
  base: "./",
  plugins: [react()],
  // amazon-cognito-identity-js pulls in the `buffer` package, which reads Node's `global`.
  define: { global: "globalThis" },
  build: { outDir: "dist", sourcemap: true, target: "es2022" },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "node",
    restoreMocks: true,
  },
});
