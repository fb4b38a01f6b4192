# the file exists outside the context
echo outside > ../outside.txt
