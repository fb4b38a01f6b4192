# archives made here: owners and modes git would not keep
mkdir -p src/dir
echo one > src/one && chmod 640 src/one && chown 12:34 src/one
echo two > src/dir/two && chmod 700 src/dir && ln -s one src/link
t() { tar --sort=name --mtime=@0 --numeric-owner -C src -cf - . ; }
t > plain.tar
t | gzip -n > gz.tgz
t | bzip2 > bz.tar.bz2
t | xz > xz.tar.xz
t | zstd -q > zst.tar.zst
t | gzip -n > renamed.bin
echo "plain text" > not-a-tar.tar
echo added > file.txt
rm -rf src
