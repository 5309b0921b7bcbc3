# Node.js 24 is the current LTS; the development machines run 20, which the code also supports.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The same heap limit as `npm start`: without one V8 sizes old space from the
# host's memory and resident memory swings far above what the service uses.
CMD ["node", "--max-old-space-size=288", "--initial-old-space-size=224", "dist/src/main.js"]
