mkdir -p src/d && echo f > src/d/f && chown 12:34 src/d/f && chmod 600 src/d/f
tar --sort=name --mtime=@0 --numeric-owner -C src -cf arch.tar .
rm -rf src
mkdir -p dir/sub && echo x > dir/sub/x
