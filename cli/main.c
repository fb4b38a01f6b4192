/* SPDX-License-Identifier: Apache-2.0 */
/* kiln: the command table, global options and shared CLI helpers. */
#include <locale.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "kiln/container.h"
#include "kiln-commit.h"
#include "kiln-config.h"

static const struct cli_command commands[] = {
        { "import", cmd_import, "Import a root filesystem tarball or directory as an image",
          "Usage:  kiln import [OPTIONS] FILE|DIR|- [REPOSITORY[:TAG]]\n\n"
          "Create an image with one layer from a root filesystem: a tar archive\n"
          "(plain, gzip, bzip2, xz or zstd), a directory, or a tar on stdin (-).\n"
          "Importing from a URL is not supported yet.\n\n"
          "Options:\n"
          "  -c, --change list          Apply a Dockerfile instruction to the config:\n"
          "                             CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,\n"
          "                             STOPSIGNAL, USER, VOLUME, WORKDIR\n"
          "  -m, --message string       Set the commit message of the image\n"
          "      --platform string      Set the platform (only the host's, os/arch[/variant])\n"
          "      --compression string   Layer compression: gzip (default), zstd, none\n"
          "      --compression-level n  Compression level (gzip 1-9, zstd 1-19)\n"
          "  -q, --quiet                Print only the image ID\n" },
        { "images", cmd_images, "List images",
          "Usage:  kiln images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
          "List the images in the store.\n\n"
          "Options:\n"
          "  -a, --all              Show all images (kept for docker compatibility)\n"
          "      --digests          Show digests\n"
          "  -f, --filter filter    Filter output: dangling=true|false, reference=PATTERN\n"
          "      --format string    Format: table (default), json, or a Go-style template\n"
          "                         such as '{{.Repository}}:{{.Tag}}'\n"
          "      --no-trunc         Don't truncate output\n"
          "  -q, --quiet            Only show image IDs\n" },
        { "tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
          "Usage:  kiln tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
          "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.\n" },
        { "rmi", cmd_rmi, "Remove one or more images",
          "Usage:  kiln rmi [OPTIONS] IMAGE [IMAGE...]\n\n"
          "Remove images: untag a name, and delete the image when no name is left.\n"
          "Blobs and unpacked layers no other image uses are removed too.\n\n"
          "Options:\n"
          "  -f, --force      Force removal of an image referenced by several names\n"
          "      --no-prune   Do not remove unused blobs and layers\n" },
        { "inspect", cmd_inspect, "Return low-level information on containers and images",
          "Usage:  kiln inspect [OPTIONS] NAME|ID [NAME|ID...]\n\n"
          "Print a JSON array describing each container or image.\n\n"
          "Options:\n"
          "  -f, --format string   Format the output using a Go-style template,\n"
          "                        e.g. '{{.Id}}' or '{{json .Config}}'\n"
          "      --type string     image or container (default: a container of that\n"
          "                        name first, then an image)\n" },
        { "history", cmd_history, "Show the history of an image",
          "Usage:  kiln history [OPTIONS] IMAGE\n\n"
          "Show the history of an image, newest step first.\n\n"
          "Options:\n"
          "      --format string   json, table (default) or a Go-style template\n"
          "  -H, --human           Print sizes and dates in human readable format (default true)\n"
          "      --no-trunc        Don't truncate output\n"
          "  -q, --quiet           Only show image IDs\n" },
        { "image", cmd_image, "Manage images",
          "Usage:  kiln image COMMAND\n\n"
          "Manage images.\n\n"
          "Commands:\n"
          "  history   Show the history of an image\n"
          "  import    Import a root filesystem as an image\n"
          "  inspect   Display detailed information on one or more images\n"
          "  ls        List images\n"
          "  prune     Remove unused images\n"
          "  rm        Remove one or more images\n"
          "  tag       Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n"
          "  unpack    Unpack an image's layers into a directory\n" },
        { "image unpack", cmd_image_unpack, "Unpack an image's layers into a directory",
          "Usage:  kiln image unpack IMAGE DIR\n\n"
          "Apply every layer of IMAGE in order to DIR (created if missing, must be\n"
          "empty), as `umoci unpack` does for its rootfs: whiteouts applied, owners\n"
          "kept when run as root.\n" },
        { "layer", cmd_layer, "Create and apply layer tarballs",
          "Usage:  kiln layer COMMAND\n\n"
          "The layer engine on its own.\n\n"
          "Commands:\n"
          "  apply    Apply a layer (tar, tar+gzip, tar+zstd) to a directory\n"
          "  create   Create a layer from a directory\n"
          "  diff     Create a layer from the changes between two directories\n" },
        { "layer create", cmd_layer_create, "Create a layer from a directory",
          "Usage:  kiln layer create [OPTIONS] DIR OUTPUT|-\n\n"
          "Write a deterministic OCI layer holding DIR and print its digest and diff_id.\n\n"
          "Options:\n"
          "      --compression string     gzip (default), zstd or none\n"
          "      --level n                Compression level\n"
          "      --threads n              Compression threads (0: all CPUs)\n"
          "      --source-date-epoch n    Clamp mtimes to this time\n" },
        { "layer diff", cmd_layer_diff, "Create a layer from the changes between two trees",
          "Usage:  kiln layer diff [OPTIONS] LOWER UPPER OUTPUT|-\n\n"
          "Write a layer that turns LOWER into UPPER (removed paths as .wh. whiteouts).\n\n"
          "Options:\n"
          "      --overlay                UPPER is an overlayfs upper dir (0/0 char devices\n"
          "                               are whiteouts, opaque xattrs mark opaque dirs)\n"
          "      --compression string     gzip (default), zstd or none\n"
          "      --level n                Compression level\n"
          "      --threads n              Compression threads (0: all CPUs)\n"
          "      --source-date-epoch n    Clamp mtimes to this time\n" },
        { "layer apply", cmd_layer_apply, "Apply a layer to a directory",
          "Usage:  kiln layer apply [OPTIONS] LAYER|- DIR\n\n"
          "Apply a layer safely inside DIR and print its digest and diff_id.\n\n"
          "Options:\n"
          "      --overlay-whiteouts   Keep whiteouts as overlayfs whiteouts\n"
          "      --no-same-owner       Do not restore owners from the tar\n" },
        { "image prune", cmd_image_prune, "Remove unused images",
          "Usage:  kiln image prune [OPTIONS]\n\n"
          "Remove dangling (untagged) images, then unused blobs and layers.\n\n"
          "Options:\n"
          "  -a, --all     Remove all images not used by a container, not only dangling ones\n"
          "  -f, --force   Do not prompt for confirmation\n" },
        { "system", cmd_system, "Manage kiln",
          "Usage:  kiln system COMMAND\n\n"
          "Commands:\n"
          "  df      Show kiln disk usage\n"
          "  prune   Remove unused data (dangling images, unreferenced blobs and layers)\n" },
        { "system df", cmd_system_df, "Show kiln disk usage",
          "Usage:  kiln system df [OPTIONS]\n\n"
          "Show the disk space the store uses.\n\n"
          "Options:\n"
          "      --format string   table (default) or json\n"
          "  -v, --verbose         Show details per image\n" },
        { "system prune", cmd_system_prune, "Remove unused data",
          "Usage:  kiln system prune [OPTIONS]\n\n"
          "Remove dangling images, then blobs and unpacked layers no image uses,\n"
          "and leftovers of interrupted writes.\n\n"
          "Options:\n"
          "  -a, --all     Remove all unused images, not only dangling ones\n"
          "  -f, --force   Do not prompt for confirmation\n" },
        { "builder", cmd_builder, "Manage builds",
          "Usage:  kiln builder COMMAND\n\n"
          "Commands:\n"
          "  prune   Remove build cache\n" },
        { "builder prune", cmd_builder_prune, "Remove build cache",
          "Usage:  kiln builder prune [OPTIONS]\n\n"
          "Remove build cache entries whose layer no image uses (with -a: all of\n"
          "them), then their layers when nothing else uses them.\n\n"
          "Options:\n"
          "  -a, --all     Remove all build cache, not only what no image uses\n"
          "  -f, --force   Do not prompt for confirmation\n" },
        { "fsck", cmd_fsck, "Check the store's integrity",
          "Usage:  kiln fsck [OPTIONS]\n\n"
          "Re-hash every blob, check that every image's manifest, config and layers\n"
          "are present and valid, that index.json matches, and that no write was left\n"
          "half done. Exits 0 when the store is clean, 1 when problems remain.\n\n"
          "Options:\n"
          "      --repair   Remove corrupt blobs, broken images and leftovers;\n"
          "                 rewrite index.json\n"
          "  -q, --quiet    Print only problems\n" },
        { "run", cmd_run, "Create and run a new container from an image",
          "Usage:  kiln run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
          "Create and run a new container from an image.\n\n"
          "Options:\n"
          "  -d, --detach               Run in the background and print the container ID\n"
          "  -i, --interactive          Keep STDIN open\n"
          "  -t, --tty                  Allocate a pseudo-TTY\n"
          "      --rm                   Remove the container when it exits\n"
          "      --name string          Assign a name\n"
          "  -e, --env list             Set environment variables (K=V, or K from this environment)\n"
          "      --env-file file        Read environment variables from a file\n"
          "  -w, --workdir string       Working directory inside the container\n"
          "  -u, --user string          user[:group], names resolved in the image\n"
          "      --entrypoint string    Override the image's ENTRYPOINT (resets its CMD)\n"
          "  -h, --hostname string      Container host name\n"
          "      --init                 Run an init (kiln-init, at /dev/init) as PID 1 that\n"
          "                             forwards signals and reaps zombies\n"
          "      --read-only            Mount the root filesystem read-only\n"
          "      --tmpfs list           Mount a tmpfs: /path[:options]\n"
          "  -v, --volume list          Bind mount HOST-DIR:CONTAINER-DIR[:ro]\n"
          "      --mount mount          type=bind|tmpfs,source=,target=,readonly\n"
          "      --cap-add list         Add Linux capabilities\n"
          "      --cap-drop list        Drop Linux capabilities\n"
          "      --privileged           All capabilities, no seccomp, all devices\n"
          "      --security-opt list    seccomp=unconfined|FILE.json, no-new-privileges\n"
          "  -m, --memory bytes         Memory limit (e.g. 64m)\n"
          "      --memory-swap bytes    Memory plus swap limit; -1 unlimited\n"
          "      --cpus decimal         Number of CPUs\n"
          "  -c, --cpu-shares int       CPU shares (relative weight)\n"
          "      --pids-limit int       Process limit (-1 unlimited)\n"
          "      --network string       bridge (the default as root: kiln0, 10.88.0.0/16;\n"
          "                             KILN_BRIDGE, KILN_BRIDGE_SUBNET), none (loopback\n"
          "                             only), host, container:NAME|ID (share its network);\n"
          "                             without root: a private namespace, loopback only\n"
          "  -p, --publish list         Publish a container's port(s) to the host:\n"
          "                             [IP:][HOSTPORT:]CTRPORT[/tcp|udp]; ranges\n"
          "                             (8000-8001:80-81); no HOSTPORT: a free one\n"
          "  -P, --publish-all          Publish all EXPOSEd ports to free host ports\n"
          "      --stop-signal string   Signal to stop the container\n"
          "      --stop-timeout int     Seconds to wait before killing\n"
          "      --health-cmd string    Command to run to check health (CMD-SHELL)\n"
          "      --health-interval duration  Time between checks (ms|s|m|h; default 30s)\n"
          "      --health-timeout duration   Maximum time a check may run (default 30s)\n"
          "      --health-retries int   Consecutive failures to report unhealthy (default 3)\n"
          "      --health-start-period duration  Failures in this time after the start\n"
          "                             do not count (default 0s)\n"
          "      --no-healthcheck       Disable the image's HEALTHCHECK\n"
          "  -l, --label list           Set metadata\n\n"
          "  -v, --volume list          Also NAME:CONTAINER-DIR (a named volume) or\n"
          "                             CONTAINER-DIR (an anonymous volume)\n\n"
          "      --userns string        auto[:size=N] (a free block of user \"containers\"\n"
          "                             subordinate ids; root only), host\n"
          "      --uidmap, --gidmap CONTAINER:HOST:SIZE  Explicit id maps (root only)\n\n"
          "Exit status: the command's; 125 when kiln fails, 126 when the command cannot\n"
          "be invoked, 127 when it is not found, 128+N on signal N.\n" },
        { "create", cmd_create, "Create a new container",
          "Usage:  kiln create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
          "Create a container without starting it; options as for kiln run.\n" },
        { "start", cmd_start, "Start one or more stopped containers",
          "Usage:  kiln start [OPTIONS] CONTAINER [CONTAINER...]\n\n"
          "Options:\n"
          "  -a, --attach        Attach stdout/stderr and wait for the exit\n"
          "  -i, --interactive   Attach stdin\n" },
        { "ps", cmd_ps, "List containers",
          "Usage:  kiln ps [OPTIONS]\n\n"
          "Options:\n"
          "  -a, --all           Show all containers (default shows running ones)\n"
          "  -l, --latest        Show the latest created container\n"
          "  -q, --quiet         Only display container IDs\n"
          "      --no-trunc      Don't truncate output\n"
          "      --format string table, json, or a Go-style template\n" },
        { "logs", cmd_logs, "Fetch the logs of a container",
          "Usage:  kiln logs [OPTIONS] CONTAINER\n\n"
          "Options:\n"
          "  -f, --follow        Follow log output\n"
          "  -n, --tail string   Number of lines to show from the end (default all)\n"
          "  -t, --timestamps    Show timestamps\n" },
        { "stop", cmd_stop, "Stop one or more running containers",
          "Usage:  kiln stop [OPTIONS] CONTAINER [CONTAINER...]\n\n"
          "Send the stop signal, then SIGKILL after the timeout.\n\n"
          "Options:\n"
          "  -t, --time int   Seconds to wait before killing (default: the container's, 10)\n" },
        { "restart", cmd_stop, "Restart one or more containers",
          "Usage:  kiln restart [OPTIONS] CONTAINER [CONTAINER...]\n\n"
          "Options:\n"
          "  -t, --time int   Seconds to wait before killing\n" },
        { "kill", cmd_kill, "Kill one or more running containers",
          "Usage:  kiln kill [OPTIONS] CONTAINER [CONTAINER...]\n\n"
          "Options:\n"
          "  -s, --signal string   Signal to send (default \"KILL\")\n" },
        { "rm", cmd_rm, "Remove one or more containers",
          "Usage:  kiln rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
          "Options:\n"
          "  -f, --force     Force the removal of a running container (SIGKILL)\n"
          "  -v, --volumes   Remove anonymous volumes (none exist yet)\n" },
        { "wait", cmd_wait, "Block until containers stop, then print their exit codes",
          "Usage:  kiln wait CONTAINER [CONTAINER...]\n" },
        { "port", cmd_port, "List port mappings or a specific mapping for the container",
          "Usage:  kiln port CONTAINER [PRIVATE_PORT[/PROTO]]\n" },
        { "exec", cmd_exec, "Execute a command in a running container",
          "Usage:  kiln exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
          "Options:\n"
          "  -d, --detach          Run in the background\n"
          "  -e, --env list        Set environment variables\n"
          "  -i, --interactive     Keep STDIN open\n"
          "      --privileged      Give extended privileges to the command\n"
          "  -t, --tty             Allocate a pseudo-TTY\n"
          "  -u, --user string     user[:group]\n"
          "  -w, --workdir string  Working directory inside the container\n" },
        { "container", cmd_container, "Manage containers",
          "Usage:  kiln container COMMAND\n\n"
          "Commands:\n"
          "  create, exec, inspect, kill, logs, ls, prune, restart, rm, run, start, stop, wait\n" },
        { "container prune", cmd_container_prune, "Remove all stopped containers",
          "Usage:  kiln container prune [OPTIONS]\n\n"
          "Options:\n"
          "  -f, --force   Do not prompt for confirmation\n" },
        { "healthcheck", cmd_healthcheck, "Manage healthchecks on containers",
          "Usage:  kiln healthcheck COMMAND\n\n"
          "Commands:\n"
          "  run   Run a container's healthcheck now\n" },
        { "healthcheck run", cmd_healthcheck_run, "Run a container's healthcheck",
          "Usage:  kiln healthcheck run CONTAINER\n\n"
          "Run the healthcheck of a running container once now and record the result\n"
          "in State.Health. Prints \"unhealthy\" unless the container is healthy.\n\n"
          "Exit status: 0 healthy, 1 not (unhealthy, or still starting), 125 on an\n"
          "error (no such container, no healthcheck defined, not running).\n" },
        { "container cleanup", cmd_container_cleanup,
          "Record a detached container's exit (run by kiln-monitor)",
          "Usage:  kiln container cleanup [OPTIONS] CONTAINER\n\n"
          "Not for users: the exit command kiln-monitor runs once a detached\n"
          "container's process has exited. Records the exit, deletes the runtime\n"
          "state, unmounts the root filesystem; removes a --rm container.\n\n"
          "Options:\n"
          "      --exit-code int        The exit code (Docker's terms)\n"
          "      --finished-at string   When it exited (RFC 3339; default: now)\n"
          "      --oom                  The OOM killer struck\n" },
        { "build", cmd_build, "Build an image from a Dockerfile",
          "Usage:  kiln build [OPTIONS] CONTEXT\n\n"
          "Build an image from a Dockerfile (or Containerfile) and a context: a\n"
          "directory, or '-' for stdin: a tar archive (plain or compressed) is the\n"
          "context, anything else is the Dockerfile with an empty context. Step lines\n"
          "and the output of RUN go to stderr; the image ID is printed on stdout.\n\n"
          "Options:\n"
          "      --build-arg list    Set a build-time variable (K=V; a bare K takes\n"
          "                          its value from the environment)\n"
          "  -f, --file string       Name of the Dockerfile (default: CONTEXT/Dockerfile;\n"
          "                          '-': read it from stdin)\n"
          "      --format string     oci (the default) or docker: a Docker schema2\n"
          "                          manifest whose config keeps HEALTHCHECK, SHELL and\n"
          "                          ONBUILD (OCI leaves them out, as buildah does)\n"
          "      --iidfile string    Write the image ID to the file\n"
          "      --jobs int          Stages built at once, each as soon as the stages\n"
          "                          it needs are done (default: the online CPUs, at\n"
          "                          least 2; 1: one after the other; 0: no limit)\n"
          "      --label list        Set a label on the image (K=V)\n"
          "      --network string    Network for RUN steps that do not say: default\n"
          "                          (each RUN in its own network namespace, as kiln\n"
          "                          run: kiln's bridge as root, pasta rootless; with\n"
          "                          /etc/hosts and /etc/resolv.conf bind-mounted),\n"
          "                          host, or none (loopback only)\n"
          "      --platform string   Target platform: only the host's (e.g. linux/amd64)\n"
          "      --no-cache          Do not use the build cache (it is still updated)\n"
          "  -o, --output list       Also write the result: type=local,dest=DIR (the\n"
          "                          filesystem, files owned by you), type=tar,dest=FILE\n"
          "                          (the filesystem as a tar), type=oci,dest=FILE[,name=REF]\n"
          "                          (the image as an OCI layout tarball); DIR alone is\n"
          "                          local, '-' a tar on stdout (dest=- too). Without -t\n"
          "                          the image is not stored (the build cache keeps its\n"
          "                          layers)\n"
          "      --pull string       missing or never: base images from the local store\n"
          "                          (always, newer and a bare --pull are refused: kiln\n"
          "                          does not pull images yet)\n"
          "      --progress string   auto (tty on a terminal, else plain), plain (a line\n"
          "                          per step, RUN output as #N lines, DONE times), tty (a\n"
          "                          live view), quiet\n"
          "  -q, --quiet             Print only the image ID (--progress=quiet)\n"
          "      --secret list       A secret for RUN --mount=type=secret:\n"
          "                          id=NAME,src=FILE or id=NAME,env=VAR\n"
          "      --compression string    New layers: none (the default: uncompressed\n"
          "                          tars, as buildah keeps them), gzip or zstd\n"
          "      --compression-level n   Compression level (gzip 1-9, zstd 1-19)\n"
          "      --squash            Merge the final stage's new layers into one (the\n"
          "                          base image's layers stay)\n"
          "      --squash-all        Merge every layer, the base's too, into one\n"
          "      --source-date-epoch int  Reproducible: config and history times are\n"
          "                          this (seconds since 1970), layer mtimes clamped\n"
          "                          to it (default: $SOURCE_DATE_EPOCH when set)\n"
          "  -t, --tag list          Name the image (REPOSITORY[:TAG]); repeatable\n"
          "      --target string     Build the stage of that name (default: the last)\n\n"
          "Supported: FROM (a local image, scratch, an earlier stage; AS; --platform\n"
          "of the host), ARG (global and per stage; the platform ARGs TARGETPLATFORM,\n"
          "TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH,\n"
          "BUILDVARIANT; the proxy ARGs HTTP_PROXY ... all_proxy, which reach RUN\n"
          "without an ARG line and stay out of the history and cache), ENV, LABEL,\n"
          "WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, VOLUME,\n"
          "STOPSIGNAL, SHELL, MAINTAINER, HEALTHCHECK, ONBUILD (fired by a later FROM),\n"
          "RUN (shell and exec form, --network=none|host|default, heredocs,\n"
          "--mount=type=cache|secret|bind|tmpfs), COPY and ADD of local files and\n"
          "directories (--from a stage or an image, --chown, --chmod, --exclude,\n"
          "--parents, --link, wildcards, .dockerignore, heredocs), ADD of http(s)\n"
          "URLs (--checksum),\n"
          "ADD of local tar archives (extracted), the build cache (steps reused from\n"
          "the store: CACHED; kiln builder prune), --format oci|docker, reproducible\n"
          "builds (--source-date-epoch), stages that do not need each other built at\n"
          "once (--jobs).\n\n"
          "Not supported yet: RUN --mount=type=ssh, cache mounts with from=/source=,\n"
          "ADD from git repositories, pulling base images, --output\n"
          "type=docker|image|registry, --platform other than the host's (refused with\n"
          "an error).\n" },
        { "commit", cmd_commit, "Create a new image from a container's changes",
          "Usage:  kiln commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\n"
          "The container's changes (its overlay upper dir) become a new layer on top\n"
          "of its image; the config is the image's with what the container was run with.\n\n"
          "Options:\n"
          "  -a, --author string    Author\n"
          "  -c, --change list      Apply Dockerfile instructions (as kiln import)\n"
          "  -m, --message string   Commit message\n"
          "  -p, --pause            Accepted for docker compatibility (no pause yet)\n" },
        { "diff", cmd_diff, "Inspect changes to files on a container's filesystem",
          "Usage:  kiln diff CONTAINER\n\n"
          "One line per changed path: A added, C changed, D deleted.\n" },
        { "export", cmd_export, "Export a container's filesystem as a tar archive",
          "Usage:  kiln export [OPTIONS] CONTAINER\n\n"
          "Options:\n"
          "  -o, --output string   Write to a file instead of STDOUT\n" },
        { "cp", cmd_cp, "Copy files/folders between a container and the local filesystem",
          "Usage:  kiln cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
          "        kiln cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
          "Copy files/folders between a container and the local filesystem.\n"
          "Use '-' as the source to read a tar archive from stdin and extract it to a\n"
          "directory in the container; '-' as the destination streams a tar of the\n"
          "container source to stdout. Paths in the container are resolved inside its\n"
          "root filesystem (not in volumes or bind mounts over it, yet). The container\n"
          "may be running or stopped.\n\n"
          "Options:\n"
          "  -a, --archive       Archive mode (copy all uid/gid information)\n"
          "  -L, --follow-link   Always follow symbol link in SRC_PATH\n"
          "  -q, --quiet         Suppress progress output\n" },
        { "top", cmd_top, "Display the running processes of a container",
          "Usage:  kiln top CONTAINER\n" },
        { "stats", cmd_stats, "Display a live stream of container(s) resource usage statistics",
          "Usage:  kiln stats [OPTIONS] [CONTAINER...]\n\n"
          "Display a live stream of containers' resource usage, as docker stats: every\n"
          "second a table of the running containers (or of those named), redrawn in\n"
          "place on a terminal and printed again below otherwise. Containers that\n"
          "exit drop out (with -a they stay, with zeros). CPU % is the share of the\n"
          "host's CPU time used between two samples, times the number of CPUs (100%\n"
          "is one CPU busy); memory is the cgroup's usage less its inactive page\n"
          "cache, against the limit (the host's memory when unlimited); NET I/O is\n"
          "the container's interfaces but lo; BLOCK I/O the cgroup's reads and\n"
          "writes. Ctrl-C (SIGINT), SIGTERM or SIGHUP end the stream, exit status 0.\n\n"
          "Options:\n"
          "  -a, --all             Show all containers (default shows just running)\n"
          "      --format string   table (default), \"table TEMPLATE\", json (one object a\n"
          "                        line) or a Go-style template: {{.Container}}, {{.Name}},\n"
          "                        {{.ID}}, {{.CPUPerc}}, {{.MemUsage}}, {{.MemPerc}},\n"
          "                        {{.NetIO}}, {{.BlockIO}}, {{.PIDs}}\n"
          "      --no-stream       Print one table (two samples a second apart) and exit\n"
          "      --no-trunc        Do not truncate output (full container IDs)\n" },
        { "volume", cmd_volume, "Manage volumes",
          "Usage:  kiln volume COMMAND\n\n"
          "Commands:\n"
          "  create    Create a volume\n"
          "  inspect   Display detailed information on one or more volumes\n"
          "  ls        List volumes\n"
          "  prune     Remove unused anonymous volumes (-a: all unused)\n"
          "  rm        Remove one or more volumes\n" },
        { "volume create", cmd_volume_create, "Create a volume",
          "Usage:  kiln volume create [OPTIONS] [VOLUME]\n\n"
          "Create a volume (a random name when none is given). A volume used for\n"
          "the first time is filled with the image's content at its mount point.\n\n"
          "Options:\n"
          "  -d, --driver string   Only \"local\"\n"
          "      --label list      Set metadata\n" },
        { "volume ls", cmd_volume_ls, "List volumes",
          "Usage:  kiln volume ls [OPTIONS]\n\n"
          "Options:\n"
          "      --format string   table (default) or json\n"
          "  -q, --quiet           Only display volume names\n" },
        { "volume inspect", cmd_volume_inspect, "Display detailed information on one or more volumes",
          "Usage:  kiln volume inspect [OPTIONS] VOLUME [VOLUME...]\n\n"
          "Options:\n"
          "  -f, --format string   A Go-style template, e.g. '{{.Mountpoint}}'\n" },
        { "volume rm", cmd_volume_rm, "Remove one or more volumes",
          "Usage:  kiln volume rm [OPTIONS] VOLUME [VOLUME...]\n\n"
          "Options:\n"
          "  -f, --force   Remove even when a container uses it\n" },
        { "volume prune", cmd_volume_prune, "Remove unused volumes",
          "Usage:  kiln volume prune [OPTIONS]\n\n"
          "Options:\n"
          "  -a, --all     Remove all unused volumes, not only anonymous ones\n"
          "  -f, --force   Do not prompt for confirmation\n" },
        { "runtime", cmd_runtime, "The OCI runtime (runc-compatible command line)",
          "Usage:  kiln runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS\n\n"
          "An OCI runtime with runc's command line; also installed as kiln-runtime.\n"
          "Run 'kiln runtime --help' for its commands.\n" },
        { "version", cmd_version, "Show the kiln version information",
          "Usage:  kiln version [OPTIONS]\n\n"
          "Options:\n"
          "  -f, --format string   json, or a Go-style template such as '{{.Version}}'\n" },
};

static const char main_usage[] =
        "Usage:  kiln [OPTIONS] COMMAND\n\n"
        "A daemonless container-image toolchain.\n\n"
        "Options:\n"
        "      --root DIR    Store root (default /var/lib/kiln as root, else\n"
        "                    $XDG_DATA_HOME/kiln; env KILN_ROOT)\n"
        "  -v, --version     Print version information and quit\n"
        "  -h, --help        Print usage\n\n"
        "Commands:\n";

const struct cli_command *cli_find_command(const char *name)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(commands); i++)
                if (!strcmp(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static void print_main_usage(FILE *f)
{
        fputs(main_usage, f);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(commands); i++)
                if (!strchr(commands[i].name, ' '))
                        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fputs("\nRun 'kiln COMMAND --help' for more information on a command.\n", f);
}

int cli_fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("Error: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return 1;
}

int cli_fail_err(const struct kiln_error *err)
{
        return cli_fail("%s", err->msg[0] ? err->msg : kiln_strerror(err->code));
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("Error: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nSee 'kiln %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
        return EXIT_USAGE;
}

int cli_open_store(struct cli_ctx *ctx, struct kiln_store **ret)
{
        _cleanup_free_ char *root = ctx->root ? kiln_xstrdup(ctx->root) : kiln_store_default_root();
        struct kiln_error err = { 0 };
        int r = kiln_store_open(root, 0, ret, &err);
        if (r < 0)
                return cli_fail_err(&err);
        return 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const struct cli_command *cmd, int *ret_exit)
{
        /* every command takes -h/--help: look for it before getopt errors */
        bool posix = shortopts[0] == '+';
        _cleanup_free_ char *so = kiln_xasprintf("%s:h%s", posix ? "+" : "", shortopts + posix);
        static const struct option help_only[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
        size_t n = 0;
        while (longopts && longopts[n].name)
                n++;
        struct option *lo = kiln_xcalloc(n + 2, sizeof(*lo));
        if (n)
                memcpy(lo, longopts, n * sizeof(*lo));
        lo[n] = help_only[0];
        int li = 0;
        int c = getopt_long(argc, argv, so, lo, &li);
        free(lo);
        switch (c) {
        case 'h':
                fputs(cmd->usage, stdout);
                *ret_exit = 0;
                return -2;
        case '?':
                if (optopt)
                        *ret_exit = cli_usage_error(cmd->name, "unknown shorthand flag: '%c' in -%c",
                                                    optopt, optopt);
                else
                        *ret_exit = cli_usage_error(cmd->name, "unknown flag: %s",
                                                    argv[optind - 1]);
                return -2;
        case ':':
                *ret_exit = cli_usage_error(cmd->name, "flag needs an argument: %s",
                                            argv[optind - 1]);
                return -2;
        default:
                return c;
        }
}

int cli_for_each_arg(struct cli_ctx *ctx, const char *cmdname, int argc, char **argv, cli_arg_op op,
                     void *ud)
{
        if (optind >= argc)
                return cli_usage_error(cmdname, "\"kiln %s\" requires at least 1 argument", cmdname);
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        int result = 0;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                if (op(store, argv[i], ud, &err) < 0)
                        result = cli_fail_err(&err);
                else
                        printf("%s\n", argv[i]);
        }
        return result;
}

int cli_parse_bool(const char *s, bool *ret)
{
        if (!strcmp(s, "true") || !strcmp(s, "1")) {
                *ret = true;
                return 0;
        }
        if (!strcmp(s, "false") || !strcmp(s, "0")) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

/* ---- table ---- */

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *header)
{
        memset(t, 0, sizeof(*t));
        t->ncols = ncols;
        if (header)
                cli_table_add(t, header);
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
        t->rows = kiln_xrealloc(t->rows, (t->nrows + 1) * sizeof(char **));
        char **row = kiln_xcalloc(t->ncols, sizeof(char *));
        for (size_t i = 0; i < t->ncols; i++)
                row[i] = kiln_xstrdup(cells[i] ? cells[i] : "");
        t->rows[t->nrows++] = row;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
        size_t *w = kiln_xcalloc(t->ncols, sizeof(size_t));
        for (size_t r = 0; r < t->nrows; r++)
                for (size_t c = 0; c < t->ncols; c++)
                        w[c] = KILN_MAX(w[c], strlen(t->rows[r][c]));
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        if (c + 1 == t->ncols)
                                fprintf(f, "%s", t->rows[r][c]);
                        else
                                fprintf(f, "%-*s   ", (int)w[c], t->rows[r][c]);
                }
                fputc('\n', f);
        }
        free(w);
}

void cli_table_free(struct cli_table *t)
{
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++)
                        free(t->rows[r][c]);
                free(t->rows[r]);
        }
        free(t->rows);
        memset(t, 0, sizeof(*t));
}

/* Display width of UTF-8 text: its code points. */
static size_t text_width(const char *s, size_t n)
{
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)s[i] & 0xc0) != 0x80)
                        w++;
        return w;
}

void cli_tabwrite(const char *text, size_t minwidth, FILE *f)
{
        /* the widths: the cells a tab ends, column by column, over all lines */
        size_t *w = NULL, nw = 0;
        for (const char *line = text; *line;) {
                size_t ll = strcspn(line, "\n");
                size_t col = 0;
                for (const char *c = line; c < line + ll; col++) {
                        const char *tab = memchr(c, '\t', (size_t)(line + ll - c));
                        if (!tab)
                                break;
                        if (col >= nw) {
                                w = kiln_xrealloc(w, (col + 1) * sizeof(*w));
                                for (; nw <= col; nw++)
                                        w[nw] = minwidth;
                        }
                        w[col] = KILN_MAX(w[col], text_width(c, (size_t)(tab - c)) + 3);
                        c = tab + 1;
                }
                line += ll + (line[ll] == '\n');
        }
        for (const char *line = text; *line;) {
                size_t ll = strcspn(line, "\n");
                size_t col = 0;
                const char *c = line;
                for (;; col++) {
                        const char *tab = memchr(c, '\t', (size_t)(line + ll - c));
                        if (!tab)
                                break;
                        size_t cw = text_width(c, (size_t)(tab - c));
                        fprintf(f, "%.*s%*s", (int)(tab - c), c, (int)(w[col] - cw), "");
                        c = tab + 1;
                }
                fprintf(f, "%.*s\n", (int)(line + ll - c), c);
                line += ll + (line[ll] == '\n');
        }
        free(w);
}

/* ---- templates ---- */

static json_t *lookup_path(json_t *obj, const char *path)
{
        /* path like ".A.B" or "." */
        if (!strcmp(path, "."))
                return obj;
        json_t *cur = obj;
        _cleanup_free_ char *p = kiln_xstrdup(path);
        char *save = NULL;
        for (char *c = strtok_r(p, ".", &save); c; c = strtok_r(NULL, ".", &save)) {
                if (!json_is_object(cur))
                        return NULL;
                json_t *next = json_object_get(cur, c);
                if (!next) {
                        /* case-insensitive fallback, as Go field names */
                        const char *k;
                        json_t *v;
                        json_object_foreach(cur, k, v) if (!strcasecmp(k, c)) next = v;
                }
                cur = next;
                if (!cur)
                        return NULL;
        }
        return cur;
}

static void print_value(json_t *v, struct kiln_buf *out)
{
        if (!v || json_is_null(v)) {
                kiln_buf_puts(out, "<no value>");
        } else if (json_is_string(v)) {
                kiln_buf_puts(out, json_string_value(v));
        } else if (json_is_integer(v)) {
                kiln_buf_printf(out, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
                kiln_buf_printf(out, "%g", json_real_value(v));
        } else if (json_is_true(v)) {
                kiln_buf_puts(out, "true");
        } else if (json_is_false(v)) {
                kiln_buf_puts(out, "false");
        } else if (json_is_array(v)) {
                /* Go prints slices as [a b c] */
                kiln_buf_puts(out, "[");
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                {
                        if (i)
                                kiln_buf_puts(out, " ");
                        print_value(e, out);
                }
                kiln_buf_puts(out, "]");
        } else {
                /* maps as map[k:v ...] */
                kiln_buf_puts(out, "map[");
                const char *k;
                json_t *e;
                bool first = true;
                json_object_foreach(v, k, e)
                {
                        kiln_buf_printf(out, "%s%s:", first ? "" : " ", k);
                        print_value(e, out);
                        first = false;
                }
                kiln_buf_puts(out, "]");
        }
}

int cli_format_template(const char *tmpl, json_t *obj, struct kiln_buf *out,
                        struct kiln_error *err)
{
        const char *p = tmpl;
        while (*p) {
                const char *open = strstr(p, "{{");
                size_t lit = open ? (size_t)(open - p) : strlen(p);
                for (size_t i = 0; i < lit; i++) {
                        if (p[i] == '\\' && i + 1 < lit && (p[i + 1] == 'n' || p[i + 1] == 't')) {
                                kiln_buf_puts(out, p[i + 1] == 'n' ? "\n" : "\t");
                                i++;
                        } else {
                                kiln_buf_append(out, &p[i], 1);
                        }
                }
                if (!open)
                        break;
                const char *close = strstr(open, "}}");
                if (!close)
                        return kiln_err(err, -EINVAL, "template: unclosed action in '%s'", tmpl);
                _cleanup_free_ char *action = kiln_xstrndup(open + 2, (size_t)(close - open - 2));
                char *a = action;
                while (*a == ' ' || *a == '-')
                        a++;
                char *e = a + strlen(a);
                while (e > a && (e[-1] == ' ' || e[-1] == '-'))
                        *--e = 0;
                bool as_json = false;
                if (kiln_startswith(a, "json ")) {
                        as_json = true;
                        a += 5;
                        while (*a == ' ')
                                a++;
                }
                /* index .Path KEY...: an array element or a map value (Go's index) */
                char *keys = NULL;
                if (kiln_startswith(a, "index ")) {
                        a += 6;
                        while (*a == ' ')
                                a++;
                        keys = strchr(a, ' ');
                        if (!keys)
                                return kiln_err(err, -EINVAL, "template: index needs a key in '{{%s}}'", action);
                        *keys++ = 0;
                }
                if (*a != '.')
                        return kiln_err(err, -EINVAL, "template: unsupported action '{{%s}}'",
                                        action);
                json_t *v = lookup_path(obj, a);
                while (keys && *keys) {
                        while (*keys == ' ')
                                keys++;
                        if (!*keys)
                                break;
                        char *k = keys, *kend;
                        if (*k == '"') {
                                kend = strchr(k + 1, '"');
                                if (!kend)
                                        return kiln_err(err, -EINVAL, "template: unclosed string in '{{%s}}'", action);
                                *kend = 0;
                                v = json_is_object(v) ? json_object_get(v, k + 1) : NULL;
                                keys = kend + 1;
                        } else {
                                long idx = strtol(k, &kend, 10);
                                if (kend == k || (*kend && *kend != ' '))
                                        return kiln_err(err, -EINVAL, "template: bad index key in '{{%s}}'", action);
                                if (json_is_array(v) && (idx < 0 || (size_t)idx >= json_array_size(v)))
                                        return kiln_err(err, -EINVAL, "template: index %ld out of range in '{{%s}}'",
                                                        idx, action);
                                v = json_is_array(v) ? json_array_get(v, (size_t)idx) : NULL;
                                keys = kend;
                        }
                }
                if (as_json) {
                        if (!v) {
                                kiln_buf_puts(out, "null");
                        } else {
                                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                                                JSON_PRESERVE_ORDER);
                                kiln_buf_puts(out, s ? s : "null");
                                free(s);
                        }
                } else {
                        print_value(v, out);
                }
                p = close + 2;
        }
        return 0;
}

/* ---- groups ---- */

static int run_group(struct cli_ctx *ctx, const char *group, int argc, char **argv,
                     const char *const *aliases)
{
        const struct cli_command *g = cli_find_command(group);
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                fputs(g->usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : 0;
        }
        const char *sub = argv[1];
        _cleanup_free_ char *full = kiln_xasprintf("%s %s", group, sub);
        const struct cli_command *c = cli_find_command(full);
        /* aliases: pairs of sub-command name, top-level command it runs
         * ("image ls" is "images", "image tag" is "tag") */
        for (size_t i = 0; !c && aliases && aliases[i]; i += 2)
                if (!strcmp(sub, aliases[i]))
                        c = cli_find_command(aliases[i + 1]);
        if (!c || (c->run == cmd_image || c->run == cmd_system || c->run == cmd_layer ||
                   c->run == cmd_container || c->run == cmd_volume || c->run == cmd_healthcheck ||
                   c->run == cmd_builder))
                return cli_usage_error(group, "unknown command \"%s\" for \"kiln %s\"", argv[1],
                                       group);
        optind = 0;
        return c->run(ctx, argc - 1, argv + 1);
}

int cmd_image(struct cli_ctx *ctx, int argc, char **argv)
{
        static const char *const aliases[] = {
                "ls",      "images",  "list",    "images",  "rm",      "rmi",
                "remove",  "rmi",     "tag",     "tag",     "inspect", "inspect",
                "history", "history", "import",  "import",  NULL,
        };
        return run_group(ctx, "image", argc, argv, aliases);
}

int cmd_layer(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_group(ctx, "layer", argc, argv, NULL);
}

int cmd_container(struct cli_ctx *ctx, int argc, char **argv)
{
        static const char *const aliases[] = {
                "ls",    "ps",    "list",  "ps",   "create", "create", "exec",    "exec",
                "kill",  "kill",  "logs",  "logs", "restart", "restart", "rm",   "rm",
                "remove", "rm",   "run",   "run",  "start",  "start",  "stop",    "stop",
                "wait",  "wait",  "inspect", "inspect", "commit", "commit", "diff",  "diff",
                "export", "export", "top",  "top",   "stats", "stats", "cp", "cp", "port", "port", NULL,
        };
        return run_group(ctx, "container", argc, argv, aliases);
}

int cmd_volume(struct cli_ctx *ctx, int argc, char **argv)
{
        static const char *const aliases[] = { "list", "volume ls", "remove", "volume rm", NULL };
        return run_group(ctx, "volume", argc, argv, aliases);
}

int cmd_healthcheck(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_group(ctx, "healthcheck", argc, argv, NULL);
}

int cmd_builder(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_group(ctx, "builder", argc, argv, NULL);
}

int cmd_system(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_group(ctx, "system", argc, argv, NULL);
}

static void warn_to_stderr(void *ud, const char *msg)
{
        fprintf(stderr, "Warning: %s\n", msg);
}

bool cli_confirm(const char *what)
{
        if (!isatty(STDIN_FILENO))
                return true;
        fprintf(stderr, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what);
        char line[16] = "";
        return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

int main(int argc, char **argv)
{
        setlocale(LC_ALL, "C");
        /* installed as kiln-runtime, the binary is the OCI runtime itself */
        const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        if (!strcmp(base, "kiln-runtime")) {
                struct cli_ctx rctx = { .prog = "kiln-runtime" };
                optind = 0;
                return cmd_runtime(&rctx, argc, argv);
        }
        struct cli_ctx ctx = { .prog = "kiln" };
        kiln_set_warn_handler(warn_to_stderr, NULL);
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        umask(022);

        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "--root") && i + 1 < argc) {
                        ctx.root = argv[++i];
                } else if (kiln_startswith(a, "--root=")) {
                        ctx.root = a + 7;
                } else if (!strcmp(a, "--root")) {
                        return cli_usage_error(NULL, "flag needs an argument: --root");
                } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        print_main_usage(stdout);
                        return 0;
                } else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
                        printf("kiln version %s, commit %s\n", KILN_VERSION, KILN_GIT_COMMIT);
                        return 0;
                } else if (a[0] == '-') {
                        return cli_usage_error(NULL, "unknown flag: %s", a);
                } else {
                        break;
                }
        }
        if (i >= argc) {
                print_main_usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[i], "help")) {
                if (i + 1 < argc) {
                        const struct cli_command *c = cli_find_command(argv[i + 1]);
                        if (c) {
                                fputs(c->usage, stdout);
                                return 0;
                        }
                }
                print_main_usage(stdout);
                return 0;
        }
        const struct cli_command *c = cli_find_command(argv[i]);
        if (!c || strchr(c->name, ' ')) {
                fprintf(stderr, "Error: unknown command \"%s\" for \"kiln\"\n"
                                "Run 'kiln --help' for usage.\n",
                        argv[i]);
                return EXIT_USAGE;
        }
        /* a user other than root: into the user's own user namespace first
         * (not for the OCI runtime, which makes its own, nor for version) */
        if (geteuid() != 0 && strcmp(c->name, "runtime") && strcmp(c->name, "version") &&
            strcmp(c->name, "layer")) {
                struct kiln_error err = { 0 };
                if (kiln_rootless_enter(&err) < 0) {
                        fprintf(stderr, "Error: rootless: %s\n", err.msg);
                        kiln_error_clear(&err);
                        return 125;
                }
        }
        /* Commands that put a process into a container run from a sealed
         * in-memory copy of kiln, so that nothing in a container can write
         * to the host's binary through /proc/<pid>/exe (CVE-2019-5736) */
        static const char *const into_ctr[] = { "run", "start", "restart", "exec", "healthcheck" };
        const char *verb = c->name;
        if (!strcmp(verb, "container") && i + 1 < argc)
                verb = argv[i + 1];
        for (size_t k = 0; k < KILN_ARRAY_SIZE(into_ctr); k++) {
                if (strcmp(verb, into_ctr[k]))
                        continue;
                int cr = cli_ensure_cloned_binary();
                if (cr < 0) {
                        fprintf(stderr, "Error: cannot run from a sealed copy of kiln: %s\n", kiln_strerror(cr));
                        return 125;
                }
        }
        optind = 0;
        return c->run(&ctx, argc - i, argv + i);
}
