# The example service (`npm start`: the GraphQL API and the projection workers) for
# docker-compose.yml. An application image, built from this repository's sources; a
# project of yours builds its own the same way, with `npx annals start` or `serve`.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Listen on every interface: the container's port is published by compose.
ENV HOST=0.0.0.0 PORT=4000
EXPOSE 4000
# Stop with SIGTERM (compose's default): the service drains its requests, the workers
# finish their batches and release their leases, and the process exits 0.
CMD ["node", "--import", "tsx", "src/cli/main.ts", "start", "--migrate"]
