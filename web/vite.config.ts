/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the same build works at a CloudFront root and under the local emulator.
  base: "./",
  plugins: [react()],
  // amazon-cognito-identity-js pulls in the `buffer` package, which reads Node's `global`.
  define: { global: "globalThis" },
  build: {
    outDir: "dist",
    sourcemap: true,
    target: "es2022",
    rolldownOptions: {
      output: {
        // Libraries change less often than the app: separate files cache across deploys.
        codeSplitting: {
          groups: [
            { name: "react", test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
            { name: "cognito", test: /node_modules[\\/](amazon-cognito-identity-js|@aws-crypto|buffer|base64-js|ieee754|js-cookie|isomorphic-unfetch|unfetch)[\\/]/ },
            { name: "vendor", test: /node_modules[\\/]/ },
          ],
        },
      },
    },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "node",
    restoreMocks: true,
  },
});
