# modes, owners, links and sizes git does not keep
mkdir -p tree/empty tree/private tree/sub
echo exec > tree/exec.sh && chmod 755 tree/exec.sh
echo secret > tree/private/key && chmod 600 tree/private/key && chmod 700 tree/private
echo suid > tree/suid && chmod 4755 tree/suid
echo grp > tree/sub/g && chmod 2640 tree/sub/g
chmod 1777 tree/empty
echo owned > tree/owned && chown 1234:4321 tree/owned
ln -s exec.sh tree/rel-link
ln -s /etc/passwd tree/abs-link
ln tree/exec.sh tree/hard-link
echo target > file && ln -s file link-to-file
head -c 3000000 /dev/zero | tr '\0' 'k' > big.bin
