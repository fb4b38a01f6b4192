# -f names the Dockerfile; <Dockerfile>.dockerignore wins over .dockerignore
FROM corpus/bb:1
COPY . /ctx/
